"""The encoding model: chunk and story paths agree, gradients reach the adapters, masks and ragged batches."""

import json

import numpy as np
import pytest
import torch
from fixtures.lebel_encoding import make_tiny_wavlm

from espnet_brain.fmri.chunking import cut_audio
from espnet_brain.fmri.espnet_model import ESPnetFMRIEncodingModel, load_voxel_mask
from espnet_brain.fmri.frontend import AbsEncodingFrontend, SSLWindowFrontend
from espnet_brain.fmri.readout import FIRLinearHead, FIRLowRankHead
from espnet_brain.voxelwise.timing import stimulus_tr_times

SR = 16000
V = 5


@pytest.fixture(scope="module")
def wavlm_dir(tmp_path_factory):
    return make_tiny_wavlm(tmp_path_factory.mktemp("wavlm"))


def _model(wavlm_dir, lora=True, head="lowrank", delays=(1, 2, 3, 4), **model_kwargs):
    torch.manual_seed(0)
    frontend = SSLWindowFrontend(
        wavlm_dir, layer=1, window_s=1.0, stride_s=0.5, lora_conf={"r": 2, "dropout": 0.0} if lora else None
    )
    if head == "lowrank":
        readout = FIRLowRankHead(frontend.output_size(), V, delays=delays, rank=3)
    else:
        readout = FIRLinearHead(frontend.output_size(), V, delays=delays)
    return ESPnetFMRIEncodingModel(frontend, readout, lanczos_window=2, **model_kwargs)


def _story(seconds=40.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    # a modulated tone in noise: features change over the story
    return (
        0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.1 * t)) + 0.05 * rng.normal(size=t.size)
    ).astype(np.float32)


def _chunk(model, wav, times, r0, r1):
    g = model.geometry
    start, end = g.audio_span(times[r0], times[r1 - 1])
    audio = torch.from_numpy(cut_audio(wav, start, end))
    return audio, times[r0] - start / SR


@pytest.mark.parametrize("delays", [(1, 2, 3, 4), (-1, 0, 2)])
def test_chunks_predict_what_the_whole_story_predicts(wavlm_dir, delays):
    model = _model(wavlm_dir, delays=delays).eval()
    with torch.no_grad():  # running statistics that are not the identity, so normalisation is checked too
        model.head.norm.running_mean.normal_()
        model.head.norm.running_var.uniform_(0.5, 2.0)
    wav = _story()
    n_acquired = 40  # grid of 35 TRs from 10 s before the audio
    grid = stimulus_tr_times(n_acquired)
    feats, story_pred = model.story_outputs(wav, grid)
    assert feats.shape == (35, 16) and story_pred.shape == (35, V)
    rows = grid[10:-5]  # response rows
    for r0, r1 in [(0, 6), (6, 13), (13, 20)]:
        audio, tr_start = _chunk(model, wav, rows, r0, r1)
        with torch.no_grad():
            pred, _ = model.predict(
                audio[None], torch.tensor([len(audio)]), torch.tensor([tr_start]), torch.tensor([r1 - r0])
            )
        np.testing.assert_allclose(pred[0].numpy(), story_pred[10 + r0 : 10 + r1], atol=2e-5)
    # a misaligned chunk (its first TR claimed one stride later) does not give the same predictions
    audio, tr_start = _chunk(model, wav, rows, 6, 13)
    with torch.no_grad():
        pred, _ = model.predict(
            audio[None], torch.tensor([len(audio)]), torch.tensor([tr_start + 0.5]), torch.tensor([7])
        )
    assert np.abs(pred[0].numpy() - story_pred[16:23]).max() > 1e-3


def test_ragged_batch_equals_single_chunks(wavlm_dir):
    model = _model(wavlm_dir).eval()
    wav = _story()
    rows = stimulus_tr_times(40)[10:-5]
    a, ta = _chunk(model, wav, rows, 0, 8)
    b, tb = _chunk(model, wav, rows, 8, 12)
    batch = torch.nn.utils.rnn.pad_sequence([a, b], batch_first=True)
    with torch.no_grad():
        pred, lengths = model.predict(
            batch, torch.tensor([len(a), len(b)]), torch.tensor([ta, tb]), torch.tensor([8, 4])
        )
        pa, _ = model.predict(a[None], torch.tensor([len(a)]), torch.tensor([ta]), torch.tensor([8]))
        pb, _ = model.predict(b[None], torch.tensor([len(b)]), torch.tensor([tb]), torch.tensor([4]))
    assert pred.shape == (2, 8, V) and lengths.tolist() == [8, 4]
    np.testing.assert_allclose(pred[0].numpy(), pa[0].numpy(), atol=2e-5)
    np.testing.assert_allclose(pred[1, :4].numpy(), pb[0].numpy(), atol=2e-5)


def test_loss_trains_the_adapters_and_the_head_but_not_the_frozen_weights(wavlm_dir):
    model = _model(wavlm_dir).train()
    wav = _story()
    rows = stimulus_tr_times(40)[10:-5]
    a, ta = _chunk(model, wav, rows, 0, 8)
    b, tb = _chunk(model, wav, rows, 8, 14)
    speech = torch.nn.utils.rnn.pad_sequence([a, b], batch_first=True)
    response = torch.randn(2, 8, V)
    loss, stats, weight = model(
        speech, torch.tensor([len(a), len(b)]), response, torch.tensor([8, 6]), torch.tensor([[ta], [tb]])
    )
    assert loss.dim() == 0 and torch.isfinite(loss) and float(weight) == 2
    assert set(stats) == {"loss", "spatial_corr", "temporal_corr"}
    assert torch.isclose(stats["spatial_corr"], -loss.detach())
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    adapters = [g for n, g in grads.items() if "lora_B" in n]  # lora_A gets none while lora_B is zero
    assert adapters and all(g is not None and g.abs().sum() > 0 for g in adapters)
    assert all(g is not None and g.abs().sum() > 0 for n, g in grads.items() if n.startswith("head."))
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert any("q_proj.base_layer" in n for n in frozen) and not any(n.startswith("head.") for n in frozen)


def test_voxel_mask_and_rois_select_the_loss_voxels(wavlm_dir, tmp_path):
    mask = np.array([True, True, False, True, True])
    np.save(tmp_path / "mask.npy", mask)
    (tmp_path / "rois.json").write_text(json.dumps({"a": [0, 1, 2], "b": [3]}))
    model = _model(
        wavlm_dir, voxel_mask_file=str(tmp_path / "mask.npy"), roi_file=str(tmp_path / "rois.json"), loss_rois=["a"]
    ).eval()
    assert model.loss_fn.voxel_mask.tolist() == [True, True, False, False, False]
    wav = _story()
    a, ta = _chunk(model, wav, stimulus_tr_times(40)[10:-5], 0, 6)
    response = torch.randn(1, 6, V)
    args = (a[None], torch.tensor([len(a)]))
    with torch.no_grad():
        loss1, _, _ = model(*args, response, torch.tensor([6]), torch.tensor([[ta]]))
        changed = response.clone()
        changed[..., 2:] = torch.randn(1, 6, 3)  # voxels outside the mask
        loss2, _, _ = model(*args, changed, torch.tensor([6]), torch.tensor([[ta]]))
        changed[..., 0] += torch.randn(6)
        loss3, _, _ = model(*args, changed, torch.tensor([6]), torch.tensor([[ta]]))
    assert torch.isclose(loss1, loss2) and not torch.isclose(loss1, loss3)


def test_mask_errors_name_the_config_key(tmp_path):
    np.save(tmp_path / "m.npy", np.ones(4, dtype=bool))
    with pytest.raises(ValueError, match="voxel_mask_file"):
        load_voxel_mask(5, str(tmp_path / "m.npy"))
    with pytest.raises(ValueError, match="roi_file"):
        load_voxel_mask(5, rois=["auditory"])
    (tmp_path / "r.json").write_text(json.dumps({"a": [0]}))
    with pytest.raises(ValueError, match="not in"):
        load_voxel_mask(5, roi_file=str(tmp_path / "r.json"), rois=["b"])
    np.save(tmp_path / "none.npy", np.zeros(5, dtype=bool))
    with pytest.raises(ValueError, match="selects no voxel"):
        load_voxel_mask(5, str(tmp_path / "none.npy"))


def test_too_little_audio_for_the_delays_is_a_clear_error(wavlm_dir):
    model = _model(wavlm_dir, lora=False, head="linear").eval()
    audio = torch.zeros(1, 5 * SR)
    with pytest.raises(ValueError, match="need window ends"):
        model.predict(audio, torch.tensor([5 * SR]), torch.tensor([2.0]), torch.tensor([1]))


@pytest.mark.parametrize("loss_type", ["temporal_corr", "mse"])
def test_other_losses(wavlm_dir, loss_type):
    model = _model(wavlm_dir, lora=False, loss_type=loss_type).train()
    wav = _story()
    a, ta = _chunk(model, wav, stimulus_tr_times(40)[10:-5], 0, 6)
    response = torch.randn(1, 6, V)
    loss, stats, _ = model(a[None], torch.tensor([len(a)]), response, torch.tensor([6]), torch.tensor([[ta]]))
    assert model.loss_fn.loss_type == loss_type and torch.isfinite(loss)
    if loss_type == "mse":
        with torch.no_grad():  # the loss is the squared error of the model's own predictions
            pred, _ = model.predict(a[None], torch.tensor([len(a)]), torch.tensor([ta]), torch.tensor([6]))
        torch.testing.assert_close(loss.detach(), (pred - response).pow(2).mean(), rtol=1e-5, atol=1e-6)
    else:
        assert torch.isclose(loss, -stats["temporal_corr"], atol=1e-5)
    loss.backward()
    assert model.head.proj[0].weight.grad.abs().sum() > 0


class _LoudnessFrontend(AbsEncodingFrontend):
    """RMS of the last stride of each window: a feature whose timing is known."""

    def __init__(self, window_s=1.0, stride_s=0.5, sample_rate=SR):
        super().__init__()
        self.window_s, self.stride_s, self.sample_rate = window_s, stride_s, sample_rate
        self.scale = torch.nn.Parameter(torch.ones(1))

    def output_size(self):
        return 1

    def forward(self, speech, speech_lengths):
        w, s = int(self.window_s * SR), int(self.stride_s * SR)
        out = []
        for wav, n in zip(speech, speech_lengths):
            win = wav[: int(n)].unfold(0, w, s)[:, -s:]  # (N, W) -> the last stride of each window
            out.append(self.scale * win.pow(2).mean(1, keepdim=True).sqrt())
        lengths = torch.tensor([o.shape[0] for o in out])
        return torch.nn.utils.rnn.pad_sequence(out, batch_first=True), lengths


def test_story_features_line_up_with_the_simulated_tr_grid(tmp_path):
    """Audio loudness resampled to the TR grid matches the simulator's acoustic features best at zero shift."""
    from fixtures.lebel_encoding import tiny_lebel

    from espnet_brain.data.lebel import load_respdict, load_story_wav

    root = tiny_lebel(tmp_path / "corpus")
    model = ESPnetFMRIEncodingModel(_LoudnessFrontend(), FIRLinearHead(1, 2, normalize="none")).eval()
    respdict = load_respdict(str(root))
    for story in ("alittlebird", "wheretheressmoke"):
        wav = load_story_wav(str(root / "stimuli" / f"{story}.wav"))
        feats, _ = model.story_outputs(wav, stimulus_tr_times(respdict[story]))
        truth = np.load(root / "derivative" / "ground_truth" / "UTS01" / "features" / f"{story}.npy")
        energy = truth[:, :6].mean(1)  # the acoustic band envelopes of each TR window
        corr = {s: np.corrcoef(np.roll(feats[:, 0], s)[3:-3], energy[3:-3])[0, 1] for s in (-1, 0, 1)}
        assert corr[0] > 0.8 and corr[0] > corr[1] + 0.1 and corr[0] > corr[-1] + 0.1, corr
