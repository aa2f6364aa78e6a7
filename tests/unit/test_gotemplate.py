"""TEMPLATE as Go's text/template reads it: what Ollama would refuse is refused first."""

from __future__ import annotations

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
    "{{ `raw`}}{{ or .System `` }}",
    "{{ `}}{{ if` }}{{ if .X }}{{ `b` }}{{ end }}",  # a raw string may hold }} and {{
]

# Go's words, and the line of the template: the Modelfile's error adds the line the TEMPLATE
# starts on, so a wrong line or message here is a wrong pointer in front of the user.
BAD = [
    ("{{ .Prompt", "1: unclosed action"),
    ("{{ if .System }}{{ .System }}", "1: unexpected EOF: the {{if}} of line 1 has no end"),
    ("{{ if .X }}\nabc\n", "3: unexpected EOF: the {{if}} of line 1 has no end"),
    ("{{ .Prompt }}{{ end }}", "1: unexpected {{end}}"),
    ("\n{{ end }}\n\n", "2: unexpected {{end}}"),
    ("{{ else }}", "1: unexpected {{else}}"),
    ('{{ define "x" }}{{ else }}{{ end }}', "1: unexpected {{else}}"),
    (
        "{{ range .Messages }}{{ if .Content }}{{ end }}",
        "1: unexpected EOF: the {{range}} of line 1 has no end",
    ),
    ('{{ "abc }}', "1: unterminated quoted string"),
    ('{{ "a\nb" }}', "1: unterminated quoted string"),  # a quoted string ends at its line
    ("{{ 'a }}", "1: unterminated character constant"),
    ("{{ `abc }}", "1: unterminated raw quoted string"),
    ("{{ `raw`}}{{ if .X }}", "1: unexpected EOF: the {{if}} of line 1 has no end"),
    ("{{/* one */}}{{ if .X }}{{/* two */}}", "1: unexpected EOF: the {{if}} of line 1 has no end"),
    ("{{- /*/ -}}", "1: unclosed comment"),
    ("{{/* never closed }}", "1: unclosed comment"),
    ("{{/* c */X}}", "1: comment ends before closing delimiter"),
    ("{{/* a}}*/ x }}", "1: comment ends before closing delimiter"),
    ("{{ }}", "1: missing value for command"),
    ("{{ -}}", "1: missing value for command"),  # a right trim marker is no value
    ("{{\t-}}", "1: missing value for command"),
    ("{{\n-}}", "1: missing value for command"),
    ("{{\r-}}", "1: missing value for command"),
]


@pytest.mark.parametrize("text", GOOD)
def test_go_templates_ollama_takes_pass(text: str) -> None:
    check_template(text)


@pytest.mark.parametrize(("text", "why"), BAD)
def test_broken_templates_are_refused_with_gos_words(text: str, why: str) -> None:
    with pytest.raises(TemplateError) as caught:
        check_template(text)
    assert str(caught.value) == f"template line {why}"
    assert caught.value.line == int(why.partition(":")[0])


def test_a_modelfile_names_the_line_of_the_template_at_fault() -> None:
    text = 'FROM qwq:latest\nPARAMETER num_ctx 1\nTEMPLATE """{{ if .System }}\n{{ .Prompt"""\n'
    with pytest.raises(ModelfileError) as caught:
        parse_modelfile(text)
    assert "line 4" in str(caught.value) and "unclosed action" in str(caught.value)


def test_an_unterminated_string_is_placed_on_its_own_line() -> None:
    with pytest.raises(TemplateError) as caught:
        check_template('{{ .Prompt }}\n{{ "abc }}')
    assert caught.value.line == 2 and str(caught.value).startswith("template line 2: ")
