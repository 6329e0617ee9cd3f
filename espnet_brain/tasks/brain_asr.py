"""Brain-to-text task: ESPnet's ASR task with brain frontends, HF SSL encoders and day ids.

Importing this module registers the plugin's components in ESPnet's own ``ClassChoices``, so
``frontend: brain_gru``, ``encoder: hf_ssl`` (or ``hf_whisper``, ``identity``), ``model: brain`` and
``scheduler: transferlr`` are accepted by every ESPnet program that builds the ASR parser in this process (and in the
worker processes ESPnet spawns for multi-GPU training, which import this module again).
"""

import argparse
import logging
from typing import Dict, List, Optional, Tuple

import torch
from espnet2.asr.espnet_model import ESPnetASRModel
from espnet2.tasks import abs_task
from espnet2.tasks import asr as espnet_asr
from espnet2.tasks.asr import ASRTask
from espnet2.utils.types import float_or_none, str_or_none
from typeguard import typechecked

from espnet_brain.asr.encoder.hf_ssl import HFSSLEncoder
from espnet_brain.asr.encoder.identity import IdentityEncoder
from espnet_brain.asr.encoder.whisper import HFSeq2SeqSpeechEncoder
from espnet_brain.asr.espnet_model import BrainESPnetASRModel
from espnet_brain.asr.frontend import FRONTEND_PATHS, frontend_class
from espnet_brain.schedulers.transfer_lr import TransferLR

FRONTENDS = {name: frontend_class(name) for name in FRONTEND_PATHS}
ENCODERS = {"hf_ssl": HFSSLEncoder, "hf_whisper": HFSeq2SeqSpeechEncoder, "identity": IdentityEncoder}
MODELS = {"brain": BrainESPnetASRModel}
SCHEDULERS = {"transferlr": TransferLR}


def register() -> None:
    """Add the plugin's classes to ESPnet's ASR choices (idempotent)."""
    espnet_asr.frontend_choices.classes.update(FRONTENDS)
    espnet_asr.encoder_choices.classes.update(ENCODERS)
    espnet_asr.model_choices.classes.update(MODELS)
    abs_task.scheduler_classes.update(SCHEDULERS)


register()


class BrainASRTask(ASRTask):
    """ESPnet ASR task extended for brain decoding.

    Differences from :class:`espnet2.tasks.asr.ASRTask`:

    * the optional data key ``day`` (an ``utt2day`` file read as ``text_int``) reaches the
      frontend through :class:`BrainESPnetASRModel`;
    * ``--encoder_lr`` gives the pretrained encoder its own learning rate (param groups named
      ``frontend``, ``encoder`` and ``head``; the ``transferlr`` scheduler acts on ``encoder``);
    * ``--ctc_init`` initialises the CTC layer from a pretrained Wav2Vec2ForCTC character head;
    * ``--curriculum_epochs`` / ``--curriculum_start``: a sentence-length curriculum (:mod:`.curriculum`).
    """

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser):
        super().add_task_arguments(parser)
        group = parser.add_argument_group(description="Brain decoding related")
        group.add_argument(
            "--encoder_lr",
            type=float_or_none,
            default=None,
            help="Learning rate of the encoder's parameters (None: the optimizer's lr)",
        )
        group.add_argument(
            "--ctc_init",
            type=str_or_none,
            default=None,
            help="Hub id or local directory of a Wav2Vec2ForCTC whose character head initialises the CTC layer",
        )

        group.add_argument(
            "--curriculum_epochs",
            type=int,
            default=0,
            help="Sentence-length curriculum: in the first N epochs only the shortest training batches (0: off)",
        )
        group.add_argument(
            "--curriculum_start",
            type=float,
            default=0.3,
            help="Share of the training batches, shortest first, in epoch 1 of the curriculum (then growing to 1)",
        )

    @classmethod
    def build_sequence_iter_factory(cls, args: argparse.Namespace, iter_options, mode: str):
        factory = super().build_sequence_iter_factory(args, iter_options, mode)
        if mode != "train" or getattr(args, "curriculum_epochs", 0) <= 0:
            return factory
        from espnet_brain.tasks.curriculum import CurriculumIterFactory, read_lengths

        lengths = read_lengths(iter_options.shape_files[0])
        logging.info(
            f"curriculum: the shortest {args.curriculum_start:.0%} of the training batches in epoch 1, all of them "
            f"from epoch {args.curriculum_epochs + 1}"
        )
        return CurriculumIterFactory(factory, lengths, args.curriculum_epochs, args.curriculum_start)

    @classmethod
    def get_parser(cls) -> argparse.ArgumentParser:
        parser = super().get_parser()
        # The day-aware model is ESPnet's ASR model plus day ids; "model: espnet" still selects the stock one.
        parser.set_defaults(model="brain")
        return parser

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return super().optional_data_names(train, inference) + ("day",)

    @classmethod
    @typechecked
    def build_model(cls, args: argparse.Namespace) -> ESPnetASRModel:
        if args.input_size is not None and args.frontend is not None and args.frontend in FRONTENDS:
            # ASRTask.build_model silently drops the frontend when --input_size is given.
            raise ValueError(
                f"--input_size {args.input_size} would discard --frontend {args.frontend}; "
                "set the channel count in frontend_conf.input_size and leave input_size null"
            )
        model = super().build_model(args)
        ctc_init = getattr(args, "ctc_init", None)
        if ctc_init is not None:
            from espnet_brain.asr.ctc_init import init_ctc_from_hf

            report = init_ctc_from_hf(model.ctc, list(args.token_list), ctc_init)
            logging.info(f"CTC layer initialised from {ctc_init}: {report}")
        return model

    @classmethod
    def build_optimizers(cls, args: argparse.Namespace, model: torch.nn.Module) -> List[torch.optim.Optimizer]:
        optim_class = abs_task.optim_classes.get(args.optim)
        if optim_class is None:
            raise ValueError(f"--optim must be one of {list(abs_task.optim_classes)}, got {args.optim}")
        groups = param_groups(model, getattr(args, "encoder_lr", None))
        return [optim_class(groups, **args.optim_conf)]


def param_groups(model: torch.nn.Module, encoder_lr: Optional[float]) -> List[Dict]:
    """Split the trainable parameters into named groups for the optimizer.

    Args:
        model: The ESPnet model.
        encoder_lr: Learning rate of the ``encoder`` group; None keeps the optimizer's.

    Returns:
        Param-group dicts named ``frontend`` (the brain or audio frontend), ``encoder`` (the
        pretrained encoder, except a newly initialised input projection) and ``head`` (everything
        else: CTC layer, new layers); empty groups are left out (in ``frozen`` mode the encoder has
        nothing to train).
    """
    named = {"frontend": [], "encoder": [], "head": []}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.startswith("frontend."):
            named["frontend"].append(p)
        elif name.startswith("encoder.") and not name.startswith("encoder.input_proj."):
            named["encoder"].append(p)
        else:
            # The CTC layer, and new layers such as an encoder input projection, train at the base rate
            # from the first step: holding them back would only stall the pretrained parts behind them.
            named["head"].append(p)
    groups = []
    for group_name, params in named.items():
        if not params:
            continue
        group = {"name": group_name, "params": params}
        if group_name == "encoder" and encoder_lr is not None:
            group["lr"] = encoder_lr
        groups.append(group)
    return groups
