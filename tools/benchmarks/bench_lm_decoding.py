"""Cost of the CTC decoders: real-time factor and peak memory of greedy, beam, lexicon + n-gram and LLM rescoring.

Two workloads:

* ``synthetic``: a vocabulary of ``--vocab`` random words (125k: the size of Willett et al.'s), a word 3-gram
  estimated here from ``--lm_sentences`` generated sentences, and CTC posteriors of held-out generated sentences
  with one letter in ``--confuse`` swapped for another on its peak frame, so that the LM has something to fix.
* ``logp``: the saved log-posteriors of a trained system (``--logp_scp``, ``--lm_dir`` from brain_asr.sh).

Each decoder runs in its own process (one thread) so that its peak resident memory is its own. The real-time
factor is search seconds over signal seconds, at ``--frame_ms`` per CTC frame. Prints a Markdown table::

    python tools/benchmarks/bench_lm_decoding.py --vocab 125000 --beams 10 50 100
"""

import argparse
import itertools
import json
import multiprocessing as mp
import random
import resource
import string
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

TOKENS = ["<blank>", "<unk>", "<space>"] + list(string.ascii_uppercase) + ["'", "<sos/eos>"]


def _words(n: int, rng: random.Random) -> List[str]:
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randint(2, 9))))
    return sorted(words)


def _sentences(words: List[str], n: int, rng: random.Random) -> List[List[str]]:
    # Zipf-like draws with a little structure: a word's successor often comes from a small per-word set.
    cum = list(itertools.accumulate(1.0 / (r + 1) for r in range(len(words))))  # cumulative: O(log V) draws
    followers = {}
    out = []
    for _ in range(n):
        sent = [rng.choices(words, cum_weights=cum)[0]]
        for _ in range(rng.randint(3, 11)):
            prev = sent[-1]
            if prev not in followers:
                followers[prev] = rng.choices(words, cum_weights=cum, k=3)
            sent.append(rng.choice(followers[prev]) if rng.random() < 0.7 else rng.choices(words, cum_weights=cum)[0])
        out.append(sent)
    return out


def _posteriors(sentence: List[str], rng: random.Random, confuse: float):
    import torch

    ids = []
    for i, word in enumerate(sentence):
        if i:
            ids.append(TOKENS.index("<space>"))
        ids.extend(TOKENS.index(c) for c in word)
    frames = []
    for k, t in enumerate(ids):
        peak = t
        if TOKENS[t] in string.ascii_uppercase and rng.random() < confuse:
            peak = TOKENS.index(rng.choice(string.ascii_uppercase))
        frames += [peak, peak]
        if k + 1 < len(ids) and ids[k + 1] == t:
            frames.append(0)
        frames.append(0)
    probs = torch.full((len(frames), len(TOKENS)), 0.3 / (len(TOKENS) - 1))
    probs[torch.arange(len(frames)), torch.tensor(frames)] = 0.7
    return probs.log()


def _peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a
    spawned child would report its parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_one(args: Dict, queue) -> None:
    import torch

    torch.set_num_threads(1)
    from espnet_brain.asr.lm.search import SearchConfig, decode_set, wer_of

    logps = torch.load(args["logps"])
    refs = json.loads(Path(args["refs"]).read_text()) if args["refs"] else None
    tokens = TOKENS if args["tokens"] is None else args["tokens"]
    scorer = None
    if args["cfg"]["decoder"] == "lexicon_free_beam":
        from espnet_brain.asr.lm.lexicon_search import LexiconBeamSearch
        from espnet_brain.asr.lm.search import search_all

        search = LexiconBeamSearch(tokens, beam_size=args["cfg"]["beam_size"])
        start = time.perf_counter()
        best = {u: h[0] for u, h in search_all(logps, search).items()}
    else:
        cfg = SearchConfig(**args["cfg"])
        if cfg.decoder == "ngram_llm":
            from espnet_brain.asr.lm.rescoring import CausalLMScorer

            scorer = CausalLMScorer(cfg.llm)
        start = time.perf_counter()
        best, _ = decode_set(cfg, tokens, logps, llm_scorer=scorer)
    seconds = time.perf_counter() - start
    peak_mb = _peak_rss_mb()
    queue.put({"seconds": seconds, "peak_mb": peak_mb, "wer": wer_of(refs, best) if refs else None})


def measure(cfg: Dict, logps_path: str, refs_path: str, tokens=None) -> Dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(
        target=_run_one, args=({"cfg": cfg, "logps": logps_path, "refs": refs_path, "tokens": tokens}, queue)
    )
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab", type=int, default=125000)
    parser.add_argument("--lm_sentences", type=int, default=200000)
    parser.add_argument("--test_sentences", type=int, default=20)
    parser.add_argument("--confuse", type=float, default=0.1)
    parser.add_argument("--beams", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--frame_ms", type=float, default=20.0)
    parser.add_argument("--llm_layers", type=int, default=6, help="layers of the random GPT-2 used for rescoring")
    parser.add_argument("--logp_scp", default=None, help="also benchmark these saved log-posteriors")
    parser.add_argument("--lm_dir", default=None, help="build_lm output for --logp_scp")
    parser.add_argument("--token_list", default=None, help="tokens.txt for --logp_scp")
    parser.add_argument("--ref_text", default=None, help="transcripts of --logp_scp (WER column)")
    parser.add_argument("--logp_frame_ms", type=float, default=40.0, help="ms per CTC frame of --logp_scp")
    args = parser.parse_args()

    import torch

    from espnet_brain.asr.lm.lexicon import build_lexicon, write_lexicon
    from espnet_brain.asr.lm.ngram import estimate_kneser_ney

    tmp = Path(tempfile.mkdtemp(prefix="bench_lm_"))
    rng = random.Random(0)
    workloads = []

    words = _words(args.vocab, rng)
    lm_text = _sentences(words, args.lm_sentences, rng)
    test = _sentences(words, args.test_sentences, rng)
    start = time.perf_counter()
    lm = estimate_kneser_ney(lm_text, order=3, prune=[0, 0, 1])
    estimate_s = time.perf_counter() - start
    lm.write_arpa(str(tmp / "words.arpa"))
    lexicon_words = sorted({w for s in lm_text for w in s} | {w for s in test for w in s})
    write_lexicon(build_lexicon(lexicon_words, TOKENS), str(tmp / "lexicon.txt"))
    logps = {f"u{i}": _posteriors(s, rng, args.confuse) for i, s in enumerate(test)}
    torch.save(logps, tmp / "synthetic.pt")
    (tmp / "synthetic.json").write_text(json.dumps({f"u{i}": " ".join(s) for i, s in enumerate(test)}))
    n_ngrams = [len(e) for e in lm.entries]
    arpa_mb = (tmp / "words.arpa").stat().st_size / 1e6
    print(
        f"synthetic: {len(lexicon_words)} lexicon words, 3-gram from {args.lm_sentences} sentences "
        f"({n_ngrams} n-grams, estimated in {estimate_s:.1f} s, ARPA {arpa_mb:.0f} MB)"
    )
    workloads.append(("synthetic", tmp / "synthetic.pt", tmp / "synthetic.json", tmp, None, args.frame_ms))

    if args.logp_scp:
        import kaldiio

        from espnet_brain.data.datadir import read_2columns

        saved = {u: torch.from_numpy(m.copy()) for u, m in kaldiio.load_scp(args.logp_scp).items()}
        torch.save(saved, tmp / "saved.pt")
        refs_path = None
        if args.ref_text:
            (tmp / "saved.json").write_text(
                json.dumps({u: t for u, t in read_2columns(args.ref_text).items() if u in saved})
            )
            refs_path = tmp / "saved.json"
        tokens = Path(args.token_list).read_text().split()
        workloads.append(("logp", tmp / "saved.pt", refs_path, Path(args.lm_dir), tokens, args.logp_frame_ms))

    from transformers import GPT2Config, GPT2LMHeadModel

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    from fixtures.causal_lm import make_tiny_causal_lm

    llm_dir = make_tiny_causal_lm(tmp / "llm")
    config = GPT2Config.from_pretrained(llm_dir)
    config.n_layer, config.n_embd, config.n_head = args.llm_layers, 768, 12  # distilgpt2-sized, random weights
    GPT2LMHeadModel(config).save_pretrained(llm_dir)

    print("\none process per row, 1 thread; RTF = search time / signal time (synthetic: --frame_ms, logp:")
    print("--logp_frame_ms per CTC frame); peak RSS of the row's process, torch and the log-posteriors included\n")
    print("| workload | decoder | beam | utts | signal (s) | search (s) | RTF | peak RSS (MB) | WER (%) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, logps_path, refs_path, lm_dir, tokens, frame_ms in workloads:
        frames = sum(x.shape[0] for x in torch.load(logps_path).values())
        signal = frames * frame_ms / 1000
        n = len(torch.load(logps_path))
        rows = [("greedy", {"decoder": "greedy"}, 0)]
        for beam in args.beams:
            rows.append(("beam (no lexicon, no LM)", {"decoder": "lexicon_free_beam", "beam_size": beam}, beam))
            rows.append(
                (
                    "lexicon + 3-gram",
                    {
                        "decoder": "ngram",
                        "lexicon": str(lm_dir / "lexicon.txt"),
                        "ngram": str(lm_dir / "words.arpa"),
                        "beam_size": beam,
                    },
                    beam,
                )
            )
            rows.append(
                (
                    "+ LLM rescoring (20-best)",
                    {
                        "decoder": "ngram_llm",
                        "lexicon": str(lm_dir / "lexicon.txt"),
                        "ngram": str(lm_dir / "words.arpa"),
                        "beam_size": beam,
                        "nbest": 20,
                        "llm": str(llm_dir),
                        "llm_weight": 0.5,
                    },
                    beam,
                )
            )
        rows.append(("prefix beam (ESPnet scorers)", {"decoder": "beam", "beam_size": 10}, 10))
        for label, cfg, beam in rows:
            try:
                r = measure(cfg, str(logps_path), str(refs_path) if refs_path else None, tokens)
            except Exception as err:  # a row that cannot run is reported, not hidden
                print(f"| {name} | {label} | {beam or '-'} | {n} | {signal:.1f} | failed: {err} | | | |")
                continue
            wer = f"{r['wer']:.2f}" if r["wer"] is not None else "-"
            print(
                f"| {name} | {label} | {beam or '-'} | {n} | {signal:.1f} | {r['seconds']:.2f} | "
                f"{r['seconds'] / signal:.3f} | {r['peak_mb']:.0f} | {wer} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
