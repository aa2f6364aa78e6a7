from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ollama_lineage.core.modelfile import (
    DEPRECATED_PARAMETERS,
    PARAMETER_TYPES,
    Message,
    ModelfileError,
    ParamValue,
    Recipe,
    coerce_parameter,
    format_scalar,
    parse_modelfile,
    parse_show_parameters,
)
from ollama_lineage.core.names import ModelName
from tests.unit.test_names import model_names

SEED = "FROM qwq:latest\nPARAMETER num_ctx 20000\nPARAMETER num_thread 16\n"
INVALID_COMMAND = (
    'command must be one of "from", "license", "template", "system", "adapter", "draft", '
    '"renderer", "parser", "parameter", "message", or "requires"'
)
DIGEST = "sha256:" + "ab" * 32


def error_of(text: str, **kwargs: int) -> ModelfileError:
    with pytest.raises(ModelfileError) as info:
        parse_modelfile(text, **kwargs)
    return info.value


# --- parsing ------------------------------------------------------------------------------


def test_seed_example() -> None:
    recipe = parse_modelfile(SEED)
    assert recipe == Recipe("qwq:latest", {"num_ctx": 20000, "num_thread": 16})
    assert recipe.to_modelfile() == SEED


def test_from_is_normalised() -> None:
    assert parse_modelfile("FROM qwq").base == "qwq:latest"
    assert parse_modelfile("FROM registry.ollama.ai/library/qwq:7b").base == "qwq:7b"
    assert parse_modelfile('FROM "me/qwq"').base == "me/qwq:latest"


def test_commands_are_case_insensitive_but_parameter_names_are_not() -> None:
    recipe = parse_modelfile("from qwq\nPaRaMeTeR num_ctx 8\nsystem hi\nTemplate {{ .Prompt }}")
    assert recipe == Recipe("qwq:latest", {"num_ctx": 8}, "{{ .Prompt }}", "hi")
    assert str(error_of("FROM qwq\nPARAMETER NUM_CTX 8")) == "line 2: unknown parameter 'NUM_CTX'"


def test_comments_only_at_line_start_and_inline_hash_is_kept() -> None:
    text = "# a recipe\n  # indented\nFROM qwq\nSYSTEM be brief # really\n#PARAMETER num_ctx 1\n"
    recipe = parse_modelfile(text)
    assert recipe.system == "be brief # really"
    assert recipe.parameters == {}


def test_values_are_trimmed_and_one_layer_of_quotes_stripped() -> None:
    text = (
        'FROM qwq\nSYSTEM   "  padded "  \nTEMPLATE """{{ .System }}\n"{{ .Prompt }}"\n"""\n'
        'LICENSE ""\nLICENSE """"quoted""""\n'
    )
    recipe = parse_modelfile(text)
    assert recipe.system == "  padded "
    assert recipe.template == '{{ .System }}\n"{{ .Prompt }}"\n'
    assert recipe.license == ("", '"quoted"')


def test_quoted_value_spans_lines_and_hash_lines_inside_are_kept() -> None:
    recipe = parse_modelfile('FROM qwq\nSYSTEM "line one\n# not a comment\nFROM x"\n')
    assert recipe.system == "line one\n# not a comment\nFROM x"


def test_crlf_and_bom() -> None:
    text = '\ufeffFROM qwq\r\nSYSTEM """a\r\nb"""\r\nPARAMETER num_ctx 20000\r\n'
    recipe = parse_modelfile(text)
    assert recipe == Recipe("qwq:latest", {"num_ctx": 20000}, system="a\nb")


def test_repeated_stop_accumulates_and_last_template_wins() -> None:
    text = 'FROM qwq\nPARAMETER stop <|eot_id|>\nPARAMETER stop "User: "\nSYSTEM a\nSYSTEM b\n'
    recipe = parse_modelfile(text)
    assert recipe.parameters == {"stop": ["<|eot_id|>", "User: "]}
    assert recipe.system == "b"


def test_messages_adapters_and_licenses() -> None:
    text = (
        f"FROM qwq\nADAPTER /root/.ollama/models/blobs/sha256-{'ab' * 32}\nADAPTER {DIGEST}\n"
        "LICENSE MIT\nMESSAGE user hi: there\nMESSAGE assistant   hello\n"
    )
    recipe = parse_modelfile(text)
    assert recipe.adapters == (DIGEST, DIGEST)
    assert recipe.license == ("MIT",)
    assert recipe.messages == (Message("user", "hi: there"), Message("assistant", "hello"))


def test_typed_parameters() -> None:
    text = "FROM qwq\nPARAMETER temperature 0.7\nPARAMETER top_k -1\nPARAMETER use_mmap F\n"
    params = parse_modelfile(text).parameters
    assert params == {"temperature": 0.7, "top_k": -1, "use_mmap": False}
    assert isinstance(params["temperature"], float)
    assert type(params["top_k"]) is int


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM qwq\n\nFOO bar", f"line 3: {INVALID_COMMAND}"),
        ("FROM qwq\nFROM-x y", f"line 2: {INVALID_COMMAND}"),
        ("FROM qwq\nSYSTEM\n", "line 2: SYSTEM needs a value"),
        ('FROM qwq\nSYSTEM """never\nclosed\n', "line 2: unexpected EOF"),
        ('FROM qwq\n\nPARAMETER stop "open', "line 3: unexpected EOF"),
        ("PARAMETER num_ctx 8\n", "no FROM line"),
        ("# only a comment\n", "no FROM line"),
        ("FROM qwq\nFROM llama3.2", "line 2: a recipe has exactly one FROM line"),
        ("FROM qwq\nPARAMETER foo 1", "line 2: unknown parameter 'foo'"),
        (
            "FROM qwq\nPARAMETER num_ctx 1.5",
            'line 2: PARAMETER num_ctx: "1.5" is not an integer (invalid int value)',
        ),
        (
            "FROM qwq\nPARAMETER num_ctx 1e+06",
            'line 2: PARAMETER num_ctx: "1e+06" is not an integer (invalid int value)',
        ),
        (
            "FROM qwq\nPARAMETER seed 9223372036854775808",
            'line 2: PARAMETER seed: "9223372036854775808" is out of range (invalid int value)',
        ),
        (
            "FROM qwq\nPARAMETER temperature hot",
            'line 2: PARAMETER temperature: "hot" is not a number (invalid float value)',
        ),
        (
            "FROM qwq\nPARAMETER temperature nan",
            'line 2: PARAMETER temperature: "nan" is not a number (invalid float value)',
        ),
        (
            "FROM qwq\nPARAMETER top_p 1e39",
            'line 2: PARAMETER top_p: "1e39" is out of range (invalid float value)',
        ),
        (
            "FROM qwq\nPARAMETER use_mmap yes",
            'line 2: PARAMETER use_mmap: "yes" is not true or false (invalid bool value)',
        ),
        ("FROM qwq\nPARAMETER num_ctx", "line 2: PARAMETER needs a name and a value"),
        ("FROM qwq\nPARAMETER num-ctx 8", "line 2: invalid parameter name 'num-ctx'"),
        (
            "FROM qwq\nPARAMETER mirostat 1",
            "line 2: parameter 'mirostat' is deprecated and Ollama drops it; remove the line",
        ),
        (
            "FROM qwq\nMESSAGE User hi",
            'line 2: message role must be one of "system", "user", or "assistant"',
        ),
        ("FROM qwq\nMESSAGE user", "line 2: MESSAGE needs a name and a value"),
        ("FROM qwq\nDRAFT qwen3:0.6b", "line 2: DRAFT is not supported in a recipe"),
        (
            "FROM qwq\nADAPTER ./lora.gguf",
            "line 2: ADAPTER must name a blob on the server (sha256:<hex>), not './lora.gguf'",
        ),
        ("FROM a/:b", "line 1: FROM must name a model: invalid model name 'a/:b': empty model"),
        ("FROM qwq\nSYSTEM a\x00b", "line 2: control character U+0000 is not allowed"),
        ("FROM qwq\r\n\r\nSYSTEM \x1b[31mred", "line 3: control character U+001B is not allowed"),
        ("FROM qwq\nSYSTEM a\x7fb", "line 2: control character U+007F is not allowed"),
        ("FROM qwq\nSYSTEM \x9b31mred", "line 2: control character U+009B is not allowed"),
    ],
)
def test_error_messages_name_the_line(text: str, message: str) -> None:
    error = error_of(text)
    assert str(error) == message
    expected_line = re.match(r"line (\d+): ", message)
    assert error.line == (int(expected_line[1]) if expected_line else None)


@pytest.mark.parametrize(
    "path",
    [
        f"/usr/share/ollama/.ollama/models/blobs/sha256-{'ab' * 32}",
        "./model.gguf",
        "../weights",
        "~/models/x",
        "C:\\models\\x.gguf",
        "model.gguf",
        "dir/model.safetensors",
    ],
)
def test_from_a_file_path_is_refused(path: str) -> None:
    error = error_of(f"# header\nFROM {path}\n")
    assert str(error) == f"line 2: FROM must name a model, not a file path: {path}"


def test_size_limit_counts_bytes() -> None:
    assert str(error_of("FROM qwq\n" + "#" * 100, max_bytes=100)) == (
        "Modelfile is larger than 100 bytes"
    )
    assert str(error_of("FROM qwq\nSYSTEM " + "é" * 50, max_bytes=100)).endswith("100 bytes")
    assert parse_modelfile("FROM qwq\nSYSTEM " + "é" * 40, max_bytes=100).system == "é" * 40


def test_coerce_parameter_keeps_stop_as_one_string() -> None:
    assert coerce_parameter("stop", "<|eot_id|>") == "<|eot_id|>"
    assert coerce_parameter("num_ctx", "+20000") == 20000
    assert coerce_parameter("temperature", "1") == 1.0
    assert coerce_parameter("use_mmap", "TRUE") is True
    assert coerce_parameter("seed", "-0009223372036854775808") == -(2**63)
    with pytest.raises(ModelfileError, match=r'^PARAMETER seed: "9{5000}" is out of range'):
        coerce_parameter("seed", "9" * 5000)
    with pytest.raises(ModelfileError) as info:
        coerce_parameter("num_gpu", "١")  # Arabic-Indic digit: int() would take it, Go refuses
    assert info.value.line is None
    assert str(info.value) == 'PARAMETER num_gpu: "١" is not an integer (invalid int value)'


# --- rendering --------------------------------------------------------------------------------


def test_to_modelfile_is_canonical_and_quotes_like_ollama() -> None:
    recipe = Recipe(
        base="qwq:latest",
        parameters={"temperature": 0.7, "num_ctx": 20000, "stop": ["<|eot_id|>", " "]},
        template="{{ .Prompt }}\n",
        system='Say "hi"\nthen stop.',
        adapters=(DIGEST,),
        license=("MIT",),
        messages=(Message("user", " leading space"),),
    )
    assert recipe.to_modelfile() == (
        "FROM qwq:latest\n"
        f"ADAPTER {DIGEST}\n"
        'TEMPLATE "{{ .Prompt }}\n"\n'
        'SYSTEM """Say "hi"\nthen stop."""\n'
        "PARAMETER num_ctx 20000\n"
        'PARAMETER stop <|eot_id|>\nPARAMETER stop " "\n'
        "PARAMETER temperature 0.7\n"
        "LICENSE MIT\n"
        'MESSAGE user " leading space"\n'
    )


@pytest.mark.parametrize(
    ("value", "line"),
    [
        (20000.0, "PARAMETER temperature 20000"),
        (1e20, "PARAMETER temperature 1e+20"),
        (1.5e-07, "PARAMETER temperature 1.5e-07"),
    ],
)
def test_numbers_render_so_they_parse_back(value: float, line: str) -> None:
    recipe = Recipe("qwq:latest", {"temperature": value})
    assert line in recipe.to_modelfile()
    assert parse_modelfile(recipe.to_modelfile()) == recipe


def test_values_ollama_would_mangle_are_quoted() -> None:
    # Ollama's quote() leaves these bare, and its parser would then strip the
    # leading quote or the tab; the widened rule keeps them intact.
    recipe = Recipe("qwq:latest", {"stop": ['"', '"quoted"', "\ttab"]})
    text = recipe.to_modelfile()
    assert 'PARAMETER stop """""""\n' in text
    assert parse_modelfile(text) == recipe


def test_create_request() -> None:
    recipe = Recipe(
        "qwq:latest",
        {"num_ctx": 20000, "stop": ["a"]},
        system="s",
        license=("MIT",),
        messages=(Message("user", "hi"),),
        adapters=(DIGEST,),
    )
    body = recipe.create_request("qwq:latest_20K")
    assert body == {
        "model": "qwq:latest_20K",
        "from": "qwq:latest",
        "parameters": {"num_ctx": 20000, "stop": ["a"]},
        "system": "s",
        "license": ["MIT"],
        "messages": [{"role": "user", "content": "hi"}],
        "adapters": {f"sha256-{'ab' * 32}.gguf": DIGEST},
    }
    body["parameters"]["stop"].append("b")
    assert recipe.parameters["stop"] == ["a"]


def test_create_request_leaves_out_what_is_not_set() -> None:
    assert Recipe("qwq:latest").create_request("x") == {"model": "x", "from": "qwq:latest"}
    assert Recipe("qwq:latest", system="").create_request("x")["system"] == ""


# --- round trip ----------------------------------------------------------------------------------

# Text a Modelfile can carry. Excluded, because Ollama's grammar cannot represent them:
# - control characters other than tab and newline (binary input is refused; '\r' is read
#   as a line ending, as Ollama does) and lone surrogates (not encodable);
# - a '"""' followed by whitespace up to a line end: a """-quoted value ends at the
#   first line whose text so far ends in '"""', and there are no escapes.
_ALPHABET = st.one_of(
    st.sampled_from(['"', '"""', " ", "\n", "\t", "#", ":", "\\", "\u3000"]),
    st.characters(blacklist_categories=("Cc", "Cs")),
)
_UNWRITABLE = re.compile(r'"""\s*\n')
texts = st.lists(_ALPHABET, max_size=12).map("".join).filter(lambda s: not _UNWRITABLE.search(s))

_FLOAT32_MAX = 3.4028234663852886e38
_VALUES: dict[type, st.SearchStrategy[ParamValue]] = {
    int: st.integers(-(2**63), 2**63 - 1),
    float: st.floats(-_FLOAT32_MAX, _FLOAT32_MAX, allow_nan=False),
    bool: st.booleans(),
    list: st.lists(texts, min_size=1, max_size=3),
}


@st.composite
def parameters(draw: st.DrawFn) -> dict[str, ParamValue]:
    names = draw(st.sets(st.sampled_from(sorted(PARAMETER_TYPES)), max_size=5))
    return {name: draw(_VALUES[PARAMETER_TYPES[name]]) for name in names}


# A one-letter host with an empty port ("a:/library/m:t") is a valid Ollama name but reads as a
# Windows drive path; a recipe's FROM refuses those, so they cannot round-trip.
_DRIVE = re.compile(r"[A-Za-z]:[\\/]")
_words = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=12).filter(
    lambda s: s[0].isalnum()
)

recipes = st.builds(
    Recipe,
    base=model_names().map(ModelName.shortest).filter(lambda name: not _DRIVE.match(name)),
    parameters=parameters(),
    template=st.none() | texts,
    system=st.none() | texts,
    adapters=st.lists(
        st.binary(min_size=32, max_size=32).map(lambda b: "sha256:" + b.hex()), max_size=2
    ).map(tuple),
    license=st.lists(texts, max_size=2).map(tuple),
    messages=st.lists(
        st.builds(Message, st.sampled_from(["system", "user", "assistant"]), texts), max_size=3
    ).map(tuple),
    renderer=st.none() | _words,
    parser=st.none() | _words,
    requires=st.none() | st.sampled_from(["0.12.0", "0.14.1-rc2", "1.0"]),
    quantize=st.none() | st.sampled_from(["Q4_K_M", "Q8_0", "q4_0"]),
)


@given(recipes)
def test_round_trip(recipe: Recipe) -> None:
    assert parse_modelfile(recipe.to_modelfile()) == recipe


@given(recipes)
def test_rendering_is_stable(recipe: Recipe) -> None:
    text = recipe.to_modelfile()
    assert parse_modelfile(text).to_modelfile() == text


# --- /api/show parameters ---------------------------------------------------------------------


def _show(*pairs: tuple[str, str]) -> str:
    return "\n".join(f"{k:<30} {v}" for k, v in pairs)


def test_parse_show_parameters_realistic() -> None:
    text = _show(
        ("stop", '"<|start_header_id|>"'),
        ("num_ctx", "20000"),
        ("stop", '"<|eot_id|>"'),
        ("temperature", "0.7"),
        ("num_predict", "1e+06"),
        ("seed", "4.294967295e+09"),
        ("top_k", "40"),
        ("repeat_penalty", "1"),
        ("use_mmap", "true"),
        ("stop", r'"say \"hi\"\n\tthen \x41\u00e9\U0001F600 \\"'),
    )
    assert parse_show_parameters(text) == {
        "stop": ["<|start_header_id|>", "<|eot_id|>", 'say "hi"\n\tthen Aé😀 \\'],
        "num_ctx": 20000,
        "temperature": 0.7,
        "num_predict": 1_000_000,
        "seed": 4_294_967_295,
        "top_k": 40,
        "repeat_penalty": 1.0,
        "use_mmap": True,
    }
    parsed = parse_show_parameters(text)
    assert type(parsed["num_predict"]) is int
    assert type(parsed["repeat_penalty"]) is float


def test_parse_show_parameters_keeps_old_and_unknown_names() -> None:
    text = _show(
        ("mirostat", "0"),
        ("penalize_newline", "false"),
        ("mirostat_eta", "0.1"),
        ("future_knob", '"x"'),
        ("future_knob", '"y"'),
        ("odd", "NaN"),
    )
    assert set(DEPRECATED_PARAMETERS) >= {"mirostat", "penalize_newline", "mirostat_eta"}
    assert parse_show_parameters(text) == {
        "mirostat": 0,
        "penalize_newline": False,
        "mirostat_eta": 0.1,
        "future_knob": ["x", "y"],
        "odd": "NaN",
    }


def test_parse_show_parameters_reads_octal_escapes_and_bad_bytes_as_go_does() -> None:
    text = _show(("stop", r'"\101\060"'), ("stop", r'"a\xffb"'), ("stop", '""'))
    assert parse_show_parameters(text) == {"stop": ["A0", "a\ufffdb", ""]}


def test_parse_show_parameters_never_raises_on_surrogates_or_unknown_escapes() -> None:
    # A server's JSON may carry a lone surrogate; Go never writes "\\q", but a show is not
    # to be trusted: neither may raise.
    text = _show(("stop", '"a\ud800\\x41\ud800"'), ("stop", r'"\ud800\u4e2d\q"'))
    assert parse_show_parameters(text) == {
        "stop": ["a" + "\ufffd" * 3 + "A" + "\ufffd" * 3, "\ufffd" * 3 + "中\\q"]
    }


def test_parse_show_parameters_types_big_numbers_and_repeats() -> None:
    text = _show(
        ("seed", "9.223372036854775808e+18"),  # 2**63: past int64, so a float
        ("num_predict", "1e+19"),
        ("future_n", "1"),
        ("", ""),
        ("future_n", "2"),  # a name given twice becomes a list, whatever its type
        ("future_n", "true"),
    )
    parsed = parse_show_parameters(text)
    assert parsed == {"seed": 2.0**63, "num_predict": 1e19, "future_n": ["1", "2", "true"]}
    assert type(parsed["seed"]) is float and type(parsed["num_predict"]) is float
    assert parse_show_parameters(_show(("stop", '"x"'))) == {"stop": ["x"]}  # one stop: a list


def test_parse_show_parameters_empty() -> None:
    assert parse_show_parameters("") == {}


@given(st.text())
def test_parse_show_parameters_never_raises(text: str) -> None:
    parse_show_parameters(text)


def test_renderer_parser_requires_and_quantize_round_trip_into_the_create_request() -> None:
    """Overrides a rebuild must carry, or the child reverts to its base's (or unquantized)."""
    text = (
        "# quantize Q4_K_M  (ollama create -q Q4_K_M)\nFROM qwq\n"
        "RENDERER qwen3-coder\nPARSER qwen3-coder\nREQUIRES 0.12.0\n"
    )
    recipe = parse_modelfile(text)
    assert parse_modelfile(recipe.to_modelfile()) == recipe
    assert recipe.create_request("qwq:q4") == {
        "model": "qwq:q4",
        "from": "qwq:latest",
        "renderer": "qwen3-coder",
        "parser": "qwen3-coder",
        "requires": "0.12.0",
        "quantize": "Q4_K_M",
    }


# --- what mutation testing found untested (issue 20) -----------------------------------------


def test_requires_takes_a_leading_v_off_and_refuses_what_is_no_version() -> None:
    assert parse_modelfile("FROM qwq\nREQUIRES v0.14.0\n").requires == "0.14.0"
    assert parse_modelfile("FROM qwq\nRENDERER v2\n").renderer == "v2"  # only REQUIRES's v
    error = error_of("FROM qwq\nREQUIRES soon\n")
    assert str(error) == "line 2: REQUIRES must be a valid semver (e.g. 0.14.0)"
    assert (error.line, error.message) == (2, "REQUIRES must be a valid semver (e.g. 0.14.0)")


def test_text_at_the_size_limit_and_old_mac_line_ends_are_read() -> None:
    assert parse_modelfile("FROM qwq\n" + "#" * 91, max_bytes=100).base == "qwq:latest"
    assert parse_modelfile("FROM qwq\rSYSTEM hi\r").system == "hi"
    assert parse_modelfile('FROM qwq\nSYSTEM """a\nb"""  \n').system == "a\nb"  # blanks after
    assert parse_modelfile('FROM qwq\nTEMPLATE """"""\n').template == ""
    assert str(error_of("XFROM qwq")) == f"line 1: {INVALID_COMMAND}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM qwq\nSYSTEM a\x00b\nPARAMETER num_ctx 1\n", "line 2: control character U+0000"),
        ("\nFROM qwq\nSYSTEM a\x00b\n", "line 3: control character U+0000"),
    ],
)
def test_a_control_character_is_placed_on_its_own_line(text: str, message: str) -> None:
    assert str(error_of(text)) == f"{message} is not allowed"


def test_parameter_values_at_the_edges() -> None:
    assert coerce_parameter("seed", str(-(2**63))) == -(2**63)
    with pytest.raises(ModelfileError, match="is out of range"):
        coerce_parameter("seed", str(-(2**63) - 1))
    with pytest.raises(ModelfileError, match=r'"1\.5" is not'):
        coerce_parameter("use_mmap", "1.5")  # a number, but never a bool: not "out of range"


def test_scalars_format_as_the_modelfile_writes_them() -> None:
    assert [format_scalar(v) for v in (True, False, 1e15, 1e16)] == [
        "true",
        "false",
        "1000000000000000",
        "1e+16",
    ]


def test_a_template_goes_into_the_create_request() -> None:
    recipe = parse_modelfile("FROM qwq\nTEMPLATE {{ .Prompt }}\n")
    assert recipe.create_request("x")["template"] == "{{ .Prompt }}"


def test_a_model_whose_tag_ends_like_a_file_is_still_a_model() -> None:
    """`qwq:q4.gguf` is a valid Ollama name (test_round_trip could draw one); a bare
    `model.gguf` is still a file."""
    assert parse_modelfile("FROM qwq:q4.gguf\n").base == "qwq:q4.gguf"
    assert parse_modelfile("FROM qwq:weights.SafeTensors\n").base == "qwq:weights.SafeTensors"
    with pytest.raises(ModelfileError, match="not a file path"):
        parse_modelfile("FROM model.gguf\n")
