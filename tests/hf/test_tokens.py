import pytest
import torch

from espnet_brain.hf.tokens import (
    espnet_to_hf_labels,
    espnet_to_hf_vocab,
    hf_to_espnet_labels,
    map_tokens,
    read_token_list,
)

TOKENS = ["<blank>", "<unk>", "<space>", "a", "b", "<sos/eos>"]


def test_exact_case_wins_over_case_folding():
    vocab = {"<pad>": 0, "|": 1, "a": 2, "A": 3}
    rows, names, unmapped = map_tokens(["<blank>", "A", "a", "b"], vocab, pad="<pad>", word_delimiter="|", unk="<unk>")
    assert rows == {0: 0, 1: 3, 2: 2}
    assert unmapped == ["b"]


def test_vocab_keeps_espnet_indices_and_maps_back():
    vocab = espnet_to_hf_vocab(TOKENS)
    assert vocab == {"<pad>": 0, "<unk>": 1, "|": 2, "a": 3, "b": 4, "<sos/eos>": 5}
    rows, names, unmapped = map_tokens(TOKENS, vocab, pad="<pad>", word_delimiter="|", unk="<unk>")
    assert rows == {i: i for i in range(len(TOKENS))} and not unmapped
    assert names["<blank>"] == "<pad>" and names["<space>"] == "|"


def test_ignored_label_padding():
    ys = torch.tensor([[3, 4, -1], [5, -1, -1]])
    labels = espnet_to_hf_labels(ys)
    assert labels.tolist() == [[3, 4, -100], [5, -100, -100]]
    assert ys.tolist() == [[3, 4, -1], [5, -1, -1]]  # the caller's tensor is left alone
    assert torch.equal(hf_to_espnet_labels(labels), ys)


def test_token_list_must_start_with_blank(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_text("".join(t + "\n" for t in TOKENS))
    assert read_token_list(str(path)) == TOKENS
    path.write_text("a\n<blank>\n")
    with pytest.raises(ValueError, match="tokens.txt: an ESPnet CTC token list starts with <blank>"):
        read_token_list(str(path))
