"""Export an ESPnet audio ASR model built from HF parts as a Hugging Face ``*ForCTC`` directory.

The audio baseline of a recipe (frontend ``hf_cnn`` + encoder ``hf_ssl`` + CTC) has the same
parameters as a Wav2Vec2ForCTC: the CNN and feature projection live in the frontend, the
transformer in the encoder and the character head in ESPnet's CTC layer. Writing them back into
the HF layout lets the brain decoders load the audio model as their "pretrained Wav2Vec2" with
``encoder_conf.model_name_or_path`` and ``--ctc_init``, exactly as they load a hub model.

Example::

    python -m espnet_brain.bin.export_hf --asr_train_config exp/asr_audio/config.yaml \\
        --asr_model_file exp/asr_audio/valid.loss.ave.pth --output_dir exp/audio_wav2vec2_hf
"""

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch


def export(asr_train_config: str, asr_model_file: str, output_dir: str) -> Path:
    """Write the model as an HF ``*ForCTC`` checkpoint with its tokenizer.

    Returns:
        The output directory.
    """
    from transformers import AutoModelForCTC

    from espnet_brain.asr.encoder.hf_ssl import HFSSLEncoder
    from espnet_brain.asr.frontend.hf_cnn import HFConvFrontend
    from espnet_brain.hf.tokens import blank_id
    from espnet_brain.hf.writer import write_preprocessor, write_tokenizer
    from espnet_brain.tasks.brain_asr import BrainASRTask

    model, _ = BrainASRTask.build_model_from_file(asr_train_config, asr_model_file, "cpu")
    if not isinstance(model.frontend, HFConvFrontend) or not isinstance(model.encoder, HFSSLEncoder):
        raise ValueError(
            f"{asr_train_config}: export needs frontend hf_cnn and encoder hf_ssl, got "
            f"{type(model.frontend).__name__} and {type(model.encoder).__name__}"
        )
    if model.encoder.input_proj is not None:
        raise ValueError(f"{asr_train_config}: the encoder has an input projection, which HF models do not have")
    token_list = list(model.token_list)
    if model.encoder.lora_conf is not None:
        model.encoder.merge_adapters()  # an adapter-trained transformer is exported with its adapters folded in
    config = model.encoder.hf_config
    config.vocab_size = len(token_list)
    config.pad_token_id = blank_id(token_list)
    config.num_hidden_layers = len(model.encoder.transformer.layers)
    hf = AutoModelForCTC.from_config(config).float()
    backbone = hf.base_model
    backbone.feature_extractor.load_state_dict(model.frontend.feature_extractor.state_dict())
    backbone.feature_projection.load_state_dict(model.frontend.feature_projection.state_dict())
    backbone.encoder.load_state_dict(model.encoder.transformer.state_dict())
    hf.lm_head.load_state_dict(model.ctc.ctc_lo.state_dict())

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    hf.save_pretrained(str(out))
    write_tokenizer(token_list, out)
    write_preprocessor(out, config, do_normalize=model.frontend.normalize_waveform)
    return out


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asr_train_config", required=True)
    parser.add_argument("--asr_model_file", required=True)
    parser.add_argument("--output_dir", required=True)
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    with torch.no_grad():
        out = export(args.asr_train_config, args.asr_model_file, args.output_dir)
    print(f"exported {args.asr_model_file} to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
