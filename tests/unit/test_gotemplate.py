"""TEMPLATE as Go's text/template reads it: what Ollama would refuse is refused first."""

from __future__ import annotations

import re

import pytest

from ollama_lineage.core.gotemplate import TemplateError, check_template
from ollama_lineage.core.modelfile import ModelfileError, parse_modelfile

GOOD = [
    "{{ .Prompt }}",
    "{{- if .System }}<|system|>{{ .System }}{{ end }}{{ .Prompt }}",
    "{{ if .X }}a{{ else if .Y }}b{{ else }}c{{ end }}",
    '{{- range $i, $m := .Messages }}{{ if eq $m.Role "user" }}u{{ end }}{{ end -}}',
    '{{ "}}" }}{{ `{{ if` }}',
    "{{/* an {{ if in a comment */}}{{- /* trimmed */ -}}",
    '{{ define "x" }}x{{ end }}{{ block "y" . }}y{{ end }}{{ template "x" }}',
    "{{ with .Tools }}{{ . }}{{ else }}none{{ end }}",
    "{{-3}}",
    "no actions at all",
    "{{/**/}}",  # "*/" is looked for after the "/*"
    "{{/* one */}}{{ if .X }}{{/* two */}}{{ end }}",
    "{{- /* don't */ -}}",  # a quote inside a comment is no string
    '{{ if eq .Role "user"}}u{{ end }}{{ or .System "" }}',
    r'{{ "say \"hi\" \\" }}',  # escapes, an escaped quote among them
    r"{{ '\'' }}",
]

BAD = [
    ("{{ .Prompt", "unclosed action"),
    ("{{ if .System }}{{ .System }}", "unexpected EOF"),
    ("{{ .Prompt }}{{ end }}", "unexpected {{end}}"),
    ("{{ else }}", "unexpected {{else}}"),
    ('{{ define "x" }}{{ else }}{{ end }}', "unexpected {{else}}"),
    ("{{ range .Messages }}{{ if .Content }}{{ end }}", "unexpected EOF"),
    ('{{ "abc }}', "unterminated quoted string"),
    ('{{ "a\nb" }}', "unterminated quoted string"),  # a quoted string ends at its line
    ("{{ 'a }}", "unterminated character constant"),
    ("{{/* one */}}{{ if .X }}{{/* two */}}", "unexpected EOF"),
    ("{{- /*/ -}}", "unclosed comment"),
    ("{{/* never closed }}", "unclosed comment"),
    ("{{ }}", "missing value for command"),
]


@pytest.mark.parametrize("text", GOOD)
def test_go_templates_ollama_takes_pass(text: str) -> None:
    check_template(text)


@pytest.mark.parametrize(("text", "why"), BAD)
def test_broken_templates_are_refused_with_gos_words(text: str, why: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(why)):
        check_template(text)


def test_a_modelfile_names_the_line_of_the_template_at_fault() -> None:
    text = 'FROM qwq:latest\nPARAMETER num_ctx 1\nTEMPLATE """{{ if .System }}\n{{ .Prompt"""\n'
    with pytest.raises(ModelfileError) as caught:
        parse_modelfile(text)
    assert "line 4" in str(caught.value) and "unclosed action" in str(caught.value)


def test_an_unterminated_string_is_placed_on_its_own_line() -> None:
    with pytest.raises(TemplateError) as caught:
        check_template('{{ .Prompt }}\n{{ "abc }}')
    assert caught.value.line == 2 and str(caught.value).startswith("template line 2: ")
