"""Folding duplicate ids and publishing a model list with allowlist and aliases."""

from __future__ import annotations

from builtin_plugins.providers.catalog import UpstreamModel, fold_short_ids, publish

GEN = frozenset({"generate", "tool_calling"})


def m(model_id: str, tasks: frozenset[str] = GEN, context: int | None = None) -> UpstreamModel:
    return UpstreamModel(id=model_id, tasks=tasks, context_length=context)


def test_full_ids_fold_into_their_short_form() -> None:
    folded = fold_short_ids(
        [
            m("openai/gpt-oss-120b", context=131072),
            m("gpt-oss-120b"),
            m("ibnzterrell/Meta-Llama-3.3-70B-Instruct-AWQ-INT4"),
            m("llama-3.3-70b"),
            m("leon-se/gemma-3-27b-it-fp8-dynamic"),
            m("gemma-3-27b"),
            m("qwen3-embedding-4b", frozenset({"embed"})),
        ]
    )
    assert [(x.id, x.also_listed_as) for x in folded] == [
        ("gpt-oss-120b", ("openai/gpt-oss-120b",)),
        ("llama-3.3-70b", ("ibnzterrell/Meta-Llama-3.3-70B-Instruct-AWQ-INT4",)),
        ("gemma-3-27b", ("leon-se/gemma-3-27b-it-fp8-dynamic",)),
        ("qwen3-embedding-4b", ()),
    ]
    assert folded[0].context_length == 131072


def test_no_fold_when_tasks_differ_the_match_is_ambiguous_or_not_a_token_match() -> None:
    models = [
        m("org/gemma-3-27b-it", frozenset({"generate"})),
        m("gemma-3-27b"),
        m("a/qwen-7b-x"),
        m("b/qwen-7b-y"),
        m("qwen-7b"),
        m("org/superllama-3"),
        m("llama-3"),
    ]
    assert [x.id for x in fold_short_ids(models)] == [x.id for x in models]


def test_publish_emits_folded_ids_and_aliases_pointing_at_the_canonical_upstream_id() -> None:
    model = UpstreamModel(id="gpt-oss-120b", tasks=GEN, also_listed_as=("openai/gpt-oss-120b",))
    published = publish(
        [model, m("other")],
        provider="privatemode",
        region="eu",
        aliases={"fast": "openai/gpt-oss-120b", "ghost": "not-served", "other": "gpt-oss-120b"},
    )
    by_id = {x.id: x for x in published.models}
    assert list(by_id) == ["gpt-oss-120b", "openai/gpt-oss-120b", "other", "fast"]
    assert {x.upstream_id for x in published.models if x.id != "other"} == {"gpt-oss-120b"}
    assert by_id["other"].upstream_id == "other"
    assert dict(published.aliases) == {
        "openai/gpt-oss-120b": "gpt-oss-120b",
        "fast": "gpt-oss-120b",
    }
    for entry in published.models:
        assert (entry.provider, entry.region, entry.confidential) == ("privatemode", "eu", True)


def test_allowlist_matches_any_listed_id_and_aliases_only_reach_allowed_models() -> None:
    model = UpstreamModel(id="gpt-oss-120b", tasks=GEN, also_listed_as=("openai/gpt-oss-120b",))
    published = publish(
        [model, m("gemma-3-27b")],
        provider="p",
        region="eu",
        allowlist=["openai/gpt-oss-120b"],
        aliases={"g": "gemma-3-27b"},
    )
    assert [x.id for x in published.models] == ["gpt-oss-120b", "openai/gpt-oss-120b"]
