"""Play styles from logs (issue 28): tokens, the topic model, naming, player ID, `sandbox style`.

Known answers, on small corpora of the scripted fighters (one style each, easy/normal/hard):
the dominant topics recover the styles (NMI >= 0.9) and carry their names; a player mixing rushdown and zoner
70/30 by round gets 70/30 within 0.1; shuffled labels identify players at chance; all of it repeats given
the seed. Bad input is refused in one line.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from agents.style.identify import PlayerIndex, id_accuracy, kmeans_baseline, mixture, nmi
from agents.style.logs import OPPONENTS, RoundMixer, pair_seed, reference_corpus
from agents.style.model import fit_corpus, load_model, select_k, term_weights
from agents.style.naming import UNNAMED, name_topics
from agents.style.reference import least_met_opponent, load_reference
from agents.style.tokens import Vocabulary, build_corpus, decisions, round_tokens, word_of
from envs.duel import layout as L

STYLES = ("rushdown", "zoner", "turtle")


@pytest.fixture(scope="module")
def corpus():
    return reference_corpus(6, seed=3)


@pytest.fixture(scope="module")
def model(corpus):
    return fit_corpus(corpus.docs, k=3, seed=3)[0]


def truth(labels):
    return [lab.split(":")[1].split("-")[0] for lab in labels]


# ---- tokens --------------------------------------------------------------------------------------------
def test_words_read_inputs_as_the_game_does():
    assert word_of(L.Stick.FORWARD, L.Button.HEAVY) == "overhead"
    assert word_of(L.Stick.DOWN_BACK, L.Button.SPECIAL) == "projectile"
    assert word_of(L.Stick.NEUTRAL, L.Button.SPECIAL) == "throw"
    assert word_of(L.Stick.DOWN, L.Button.HEAVY) == "anti_air"
    assert word_of(L.Stick.BACK, L.Button.NONE) == "walk_b"
    assert word_of(L.Stick.UP, L.Button.LIGHT, air=True) == "air_attack"


def _round(steps, actions, gap=0.03):
    obs = np.zeros((steps, L.OBS_SIZE), np.float32)
    obs[:, L.SELF + L.F_STATE + int(L.FState.STAND)] = 1
    obs[:, L.OBS_GAP] = gap
    obs[:, L.SELF + L.F_HEALTH] = obs[:, L.OPP + L.F_HEALTH] = 1.0
    return obs, np.asarray(actions, np.int64).reshape(steps, 2)


def test_a_held_input_is_one_decision_and_ngrams_follow():
    acts = [[3, 0]] * 5 + [[0, 1]] * 2 + [[7, 0]] * 3  # walk forward, jab, walk back
    obs, actions = _round(10, acts)
    ds = decisions(obs, actions)
    assert [d[0] for d in ds] == ["walk_f", "jab", "walk_b"]
    assert ds[0][1] == "close"  # a gap of 0.03 x 800 = 24 units
    toks = round_tokens(obs, actions)
    assert "walk_f>jab" in toks and "walk_f>jab>walk_b" in toks and len(toks) == 3 + 2 + 1


def test_steps_without_control_make_no_decision():
    obs, actions = _round(6, [[3, 1]] * 6)
    obs[:, L.SELF + L.F_STATE:L.SELF + L.F_STATE + L.N_STATES] = 0
    obs[:, L.SELF + L.F_STATE + int(L.FState.HITSTUN)] = 1
    assert decisions(obs, actions) == []


def test_bad_rounds_are_refused_or_counted():
    class R:
        def __init__(self, obs, actions, path):
            self.obs, self.actions, self.path = obs, actions, path

    obs, actions = _round(6, [[3, 1]] * 6)
    stunned = obs.copy()
    stunned[:, L.SELF + L.F_STATE:L.SELF + L.F_STATE + L.N_STATES] = 0
    stunned[:, L.SELF + L.F_STATE + int(L.FState.HITSTUN)] = 1
    with pytest.raises(ValueError, match="r9.npz: a round with no decisions"):
        build_corpus([R(stunned, actions, "r9.npz")], "p")
    c = build_corpus([R(obs, actions, "short.npz")], "p", min_decisions=5)
    assert len(c) == 0 and c.skipped == 1


def test_vocabulary_is_sorted_and_filtered():
    v = Vocabulary.from_documents([["b", "a", "a"], ["a", "c"]], min_docs=2)
    assert v.tokens == ["a"]
    assert v.counts([["a", "a", "z"]]).tolist() == [[2.0]]
    assert term_weights(np.array([[0.0, 1.0, np.e]])).tolist() == [[0.0, 1.0, 2.0]]


# ---- known answers ------------------------------------------------------------------------------------
def test_topics_recover_and_name_the_scripted_styles(corpus, model):
    assert len(corpus) == 9 * 3 * 6 and corpus.skipped == 0
    score = nmi(truth(corpus.labels), model.dominant(corpus.docs))
    assert score >= 0.9, score
    for style in STYLES:  # each style's dominant topic carries its name
        docs = [d for d, lab in zip(corpus.docs, corpus.labels, strict=True) if style in lab]
        mix = mixture(model, docs)["mixture"]
        assert max(mix, key=mix.get) == style, (style, mix)
    assert sorted(model.names) == sorted(STYLES)
    assert 0.0 <= nmi(truth(corpus.labels), kmeans_baseline(corpus.docs, 3)) <= 1.0


def test_a_70_30_mixer_gets_70_30():
    """With the shipped model (the one `sandbox style` uses), over 180 rounds."""
    from agents.batched import make_batched_agent
    from agents.ghost.batched import play_batched

    mixer = RoundMixer([make_batched_agent("scripted:rushdown"), make_batched_agent("scripted:zoner")], [0.7, 0.3])
    played = []
    for opp in OPPONENTS:
        played += play_batched(mixer, opp, 60, seed=pair_seed(0, "mixer", opp))
    mix = mixture(load_reference(), build_corpus(played, "mixer").docs)["mixture"]
    assert abs(mix["rushdown"] - 0.7) <= 0.1 and abs(mix["zoner"] - 0.3) <= 0.1, mix
    drawn = 1 - np.mean(mixer.history)  # the share of rounds it actually played as the rushdown
    assert len(mixer.history) == 180 and abs(mix["rushdown"] - drawn) <= 0.1, (mix, drawn)


def test_player_id_beats_chance_and_shuffled_labels_are_at_chance(corpus, model):
    even = list(range(0, len(corpus), 2))
    odd = list(range(1, len(corpus), 2))
    args = (model, [corpus.docs[i] for i in even], [corpus.labels[i] for i in even],
            [corpus.docs[i] for i in odd], [corpus.labels[i] for i in odd])
    acc = id_accuracy(*args, seen=(1, 4), trials=20, seed=0)
    control = id_accuracy(*args, seen=(1, 4), trials=20, seed=0, shuffle=True)
    chance = 1 / 9
    assert acc[1] >= 0.7 and acc[4] >= acc[1]
    assert all(abs(a - chance) <= 0.12 for a in control.values()), control


def test_player_index_identifies_its_own_reference(corpus, model):
    index = PlayerIndex(model, corpus.docs, corpus.labels)
    assert index.identify([corpus.docs[0]]) == corpus.labels[0]


def test_deterministic_given_the_seed(corpus, model):
    again = reference_corpus(6, seed=3, players=["scripted:zoner-easy"], opponents=OPPONENTS[:1])
    first = [d for d, s in zip(corpus.docs, corpus.sources, strict=True) if s.startswith("scripted:zoner-easy#")]
    assert again.docs == first[:len(again.docs)]
    other = fit_corpus(corpus.docs, k=3, seed=3)[0]
    assert other.tokens == model.tokens and other.names == model.names
    assert np.array_equal(other.components, model.components)


def test_k_is_chosen_by_perplexity_and_stability(corpus):
    v = Vocabulary.from_documents(corpus.docs, min_docs=10)
    choice = select_k(term_weights(v.counts(corpus.docs)), (2, 3), seed=0, seeds=2)
    assert choice.k in (2, 3)
    assert {"k", "perplexity", "stability"} <= set(choice.rows[0])


# ---- naming and the model file --------------------------------------------------------------------------
def test_naming_from_the_lexicon():
    tokens = ["projectile|far|ground|hit", "guard_low|mid|ground|none", "stand|mid|air|none", "walk_f>jab"]
    tw = np.array([[10, 0.1, 0.1, 0.1], [0.1, 10, 0.1, 0.1], [0.1, 0.1, 10, 0.1], [0.1, 0.1, 0.1, 10]])
    assert name_topics(tw, tokens) == ["zoner", "turtle", UNNAMED, "rushdown"]


def test_model_saves_as_json_and_bad_files_are_refused(tmp_path, model, corpus):
    path = model.save(tmp_path / "m.json")
    back = load_model(path)
    assert np.allclose(back.topic_mixtures(corpus.docs[:5]), model.topic_mixtures(corpus.docs[:5]), atol=1e-4)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**model.as_json(), "components": [[1.0, 2.0]]}))
    with pytest.raises(ValueError, match="bad.json: components"):
        load_model(bad)
    bad.write_text("not json")
    with pytest.raises(ValueError, match="bad.json"):
        load_model(bad)


def test_the_shipped_model_names_the_three_styles():
    m = load_reference()
    assert sorted(set(m.names) - {UNNAMED}) == sorted(STYLES)


def test_least_met_opponent():
    cands = {"a": {"rushdown": 0.9, "zoner": 0.1}, "b": {"zoner": 0.8, "turtle": 0.2}, "c": {"turtle": 1.0}}
    assert least_met_opponent({"rushdown": 5, "zoner": 4, "turtle": 0}, cands) == "c"
    assert least_met_opponent({}, cands) == "a"


# ---- the verb -------------------------------------------------------------------------------------------
def _record(folder, n, spec="scripted:zoner"):
    from agents.ghost import demo_metadata, round_path, save_round
    from agents.ghost.batched import play_batched

    for k, r in enumerate(play_batched(spec, "scripted:normal", n, seed=77)):
        meta = demo_metadata(player=spec, opponent="scripted:normal", frame_skip=4, round_seconds=60.0, steps=len(r))
        save_round(round_path(folder, k + 1), r.obs, r.actions, r.rewards, opponent="scripted:normal",
                   winner=r.winner, final_health=r.final_health, meta=meta)


def test_sandbox_style_names_a_demo_folder_and_a_spec(tmp_path, capsys):
    from experiments.cli import main

    _record(tmp_path / "demos", 4)
    assert main(["style", str(tmp_path / "demos")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    res = json.loads(out[-1])
    assert res["kind"] == "demos" and res["rounds"] == 4 and max(res["mixture"], key=res["mixture"].get) == "zoner"
    assert main(["style", "scripted:rushdown-hard", "--vs", "scripted:normal", "--rounds", "4"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["kind"] == "agent" and max(res["mixture"], key=res["mixture"].get) == "rushdown"


def test_sandbox_style_refuses_bad_input_in_one_line(tmp_path, capsys):
    from experiments.cli import main

    (tmp_path / "empty").mkdir()
    assert main(["style", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "empty" in err
    _record(tmp_path / "demos", 1)
    (tmp_path / "demos" / "round_0001.npz").write_bytes(b"not a zip")
    assert main(["style", str(tmp_path / "demos")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "round_0001.npz" in err
    assert main(["style", "nonsense:spec"]) == 2
    assert main(["style"]) == 2


def test_style_tracker_follows_a_players_rounds():
    from agents.harness import play_duel
    from agents.style.reference import StyleTracker

    tracker = StyleTracker(load_reference(), rows=4)
    play_duel("scripted:zoner", "scripted:normal", 4, sides="left",
              on_step=lambda s: tracker.observe(s.obs, s.actions, (s.terminated | s.truncated) & s.live, skip=~s.live))
    shares = tracker.shares()
    assert tracker.rounds == 4 and max(shares, key=shares.get) == "zoner", shares
