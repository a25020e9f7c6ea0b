"""Words as the models read them (explorer/core/data/tokens.py): the offline files' normalisation, the vocabulary, ids."""

import pytest
import torch

from explorer.core.data.tokens import PAD, UNKNOWN, Vocabulary, drop_words, newsgroup_text, normalise
from explorer.core.errors import ArgumentError


def test_normalise_keeps_lowercase_letters_and_single_spaces():
    assert normalise("  Re: The 2nd TEST -- isn't it?\tyes\n") == "re the nd test isn t it yes"
    assert normalise("Ünïcode & 42") == "n code"  # letters a-z only, as the offline files have it


def test_a_raw_post_becomes_subject_then_body():
    post = "From: a@b.c\nSubject: Re: Hockey scores!\nLines: 3\n\nThe Leafs won 4-2.\n"
    assert newsgroup_text(post) == "re hockey scores the leafs won"
    assert newsgroup_text("no headers here, just text") == "no headers here just text"


def test_vocabulary_is_deterministic_and_drops_rare_words():
    docs = ["b a a c", "a b d", "c c e"]
    vocabulary = Vocabulary.build(docs, min_count=2)
    assert vocabulary.words == ("a", "c", "b")  # by count (3, 3, 2), ties alphabetical; d and e once
    assert vocabulary.size == 5 and Vocabulary.build(reversed(docs)).words == vocabulary.words


def test_encode_pads_cuts_and_marks_unknown_words():
    vocabulary = Vocabulary(("a", "b"))
    ids = vocabulary.encode(["a b zzz", "", "b b b b b b"], max_tokens=4)
    assert ids.dtype == torch.int64 and ids.shape == (3, 4)
    assert ids[0].tolist() == [2, 3, UNKNOWN, PAD] and ids[1].tolist() == [PAD] * 4 and ids[2].tolist() == [3] * 4


def test_bad_vocabularies_and_lengths_are_refused():
    with pytest.raises(ArgumentError, match="distinct"):
        Vocabulary(("a", "a"))
    with pytest.raises(ArgumentError, match="max_tokens"):
        Vocabulary(("a",)).encode(["a"], 0)


def test_drop_words_pads_about_that_share_of_the_words_and_follows_its_generator():
    x = torch.randint(2, 100, (50, 40), generator=torch.Generator().manual_seed(0))
    x[:, 30:] = PAD
    out = drop_words(x, 0.3, torch.Generator().manual_seed(1))
    assert out.shape == x.shape and ((out == x) | (out == PAD)).all()
    assert (out[:, 30:] == PAD).all()
    assert ((out == PAD) & (x != PAD)).sum().item() / (x != PAD).sum().item() == pytest.approx(0.3, abs=0.03)
    assert torch.equal(out, drop_words(x, 0.3, torch.Generator().manual_seed(1)))
    assert drop_words(x, 0.0, torch.Generator()) is x
