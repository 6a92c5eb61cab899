"""The claim vocabulary (eai_llm/claims.py): phrases read back as the claims they make, claims checked
against a population, descriptions written from measurements, and the faithfulness metrics."""

import numpy as np
import pytest

from eai_llm.descriptors import DESCRIPTORS
from eai_llm.claims import ACTIONS, QUALITIES, Population, check_claims, describe_measured, parse_action, parse_claims
from eai_llm.evaluation import faithfulness_metrics


@pytest.mark.parametrize("name", list(QUALITIES))
def test_every_phrase_reads_back_as_its_own_claim(name):
    quality = QUALITIES[name]
    for direction, phrases in ((+1, quality.high), (-1, quality.low)):
        for phrase in phrases:
            assert parse_claims(f"The person walks. {phrase[0].upper() + phrase[1:]}.") == [(name, direction)], phrase


def test_free_text_claims_negations_and_self_contradiction():
    assert parse_claims("She walks fast with her head down, without pausing.") == [
        ("tempo", 1), ("head_pitch", 1), ("hesitation", -1)]
    assert parse_claims("The posture is erect and the shoulders are hunched.") == [("slump", -1), ("slump", 1)]
    assert parse_claims("This is an elderly person.") == []


def test_actions_read_back_longest_match_first():
    actions = list(ACTIONS) + ["raise-up-both-hands"]
    assert parse_action("The person walks while carrying an object in both hands.", actions) == "carry_walk"
    assert parse_action("The figure walks forward slowly.", actions) == "walk"
    assert parse_action('The actor performs the "raise up both hands" movement.', actions) == "raise-up-both-hands"
    assert parse_action("The person moves.", actions) is None


def test_claims_are_checked_against_the_population():
    population = Population.from_values(np.arange(100.0)[:, None], ["extremity_speed"])
    evidence = check_claims([("tempo", 1)], {"extremity_speed": 90.0}, population)[0]
    assert evidence["verdict"] == "supported" and evidence["percentile"] == pytest.approx(0.9, abs=0.02)
    assert check_claims([("tempo", 1)], {"extremity_speed": 10.0}, population)[0]["verdict"] == "contradicted"
    assert check_claims([("tempo", 1)], {"extremity_speed": 40.0}, population)[0]["verdict"] == "unsupported"
    assert check_claims([("head_pitch", 1)], {}, population)[0]["verdict"] == "unchecked"


def test_a_description_written_from_measurements_claims_what_was_measured():
    names = ["extremity_speed", "head_pitch", "expansiveness"]
    population = Population.from_values(np.random.default_rng(0).normal(size=(200, 3)), names)
    values = {"extremity_speed": -3.0, "head_pitch": 3.0, "expansiveness": 0.0}  # slow, head lowered, ordinary
    text = describe_measured(values, population, "walk", np.random.default_rng(1))
    assert set(parse_claims(text)) == {("tempo", -1), ("head_pitch", 1)} and parse_action(text, list(ACTIONS)) == "walk"


def test_faithfulness_counts_precision_recall_contradictions_and_actions():
    population = Population.from_values(np.arange(100.0)[:, None].repeat(len(DESCRIPTORS), 1), list(DESCRIPTORS))
    values = np.full((2, len(DESCRIPTORS)), 50.0)
    values[:, list(DESCRIPTORS).index("extremity_speed")] = 95.0  # both clips notably fast
    texts = ["The person walks briskly.", "The person sits down slowly and quickly."]
    m = faithfulness_metrics(texts, values, [population] * 2, ["walk", "walk"])
    assert m["claim_precision"] == pytest.approx(1 / 3)  # briskly; slowly is contradicted, quickly in a contradiction
    assert m["claim_recall"] == 1.0 and m["self_contradictory"] == 0.5
    assert m["contradiction_rate"] == pytest.approx(2 / 3) and m["action_accuracy"] == 0.5 and m["distinct"] == 1.0


def test_a_clip_is_read_against_the_training_clips_of_its_own_action_where_there_are_enough():
    from datasets import Dataset

    from eai_llm.claims import ALL_CORPORA, MIN_ACTION_CLIPS, corpus_for_layout, reference_population
    from eai_llm.corpus import population_records

    walks, throws, knocks = MIN_ACTION_CLIPS, MIN_ACTION_CLIPS, MIN_ACTION_CLIPS - 1  # knock: too few of its own
    split = Dataset.from_dict({"corpus": ["emilya"] * (walks + throws + knocks) + ["kdae"] * 4,
                               "action": ["walk"] * walks + ["throw"] * throws + ["knock"] * knocks + [""] * 4,
                               "layout": ["xsens_mvn28"] * (walks + throws + knocks) + ["kdae24"] * 4})
    speed = list(DESCRIPTORS).index("extremity_speed")
    values = np.full((len(split), len(DESCRIPTORS)), np.nan)
    values[:, speed] = np.r_[np.linspace(0.0, 1.0, walks), np.linspace(10.0, 11.0, throws), np.full(knocks, 5.0),
                             np.full(4, 3.0)]  # walks are slow and throws fast, whoever performs them
    records = population_records(split, values)
    assert sorted(records) == [ALL_CORPORA, "emilya", "kdae"]
    assert sorted(records["emilya"]["actions"]) == ["throw", "walk"] and records["kdae"]["actions"] == {}
    assert records["emilya"]["layouts"] == ["xsens_mvn28"]
    assert records[ALL_CORPORA]["layouts"] == ["kdae24", "xsens_mvn28"]
    among_walks, action = reference_population(records, "emilya", "walk")
    assert action == "walk" and among_walks.percentile("extremity_speed", 0.95) == pytest.approx(0.95, abs=0.02)
    among_all, action = reference_population(records, "emilya", "knock")  # too few knocks: the whole corpus
    assert action is None  # 19 of the corpus's 59 clips are below it
    assert among_all.percentile("extremity_speed", 0.95) == pytest.approx(19 / 59, abs=0.02)
    assert reference_population(records, "egbm", "walk")[1] == "walk"  # a corpus not trained on: all corpora's walks
    assert corpus_for_layout(records, "kdae24") == "kdae" and corpus_for_layout(records, "kinect_v2") == ALL_CORPORA
