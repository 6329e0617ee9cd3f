"""fMRI encoding task: predict voxelwise responses to natural speech with a speech SSL model, in ESPnet.

Components are chosen by name in the training YAML::

    frontend: ssl_windows          # speech SSL model over sliding windows (LoRA adapters through lora_conf)
    frontend_conf: {model_name_or_path: microsoft/wavlm-base-plus, layer: 9, window_s: 4.0, stride_s: 0.25}
    head: fir_lowrank              # or fir_linear
    head_conf: {delays: [1, 2, 3, 4], rank: 100}
    model: fmri_encoding
    model_conf: {tr: 2.0, lanczos_window: 3, loss_type: spatial_corr}

Data (one example per chunk of consecutive TRs, written by ``espnet_brain.bin.dump_encoding``):
``speech`` (chunk audio, ``sound``), ``response`` ((T, V) responses, ``kaldi_ark``) and ``tr_start`` (chunk time
of the first TR, ``text_float``). ``--n_voxels`` gives V to the head.
"""

import argparse
import logging
from typing import Callable, Collection, Dict, List, Optional, Tuple

import numpy as np
import torch
from espnet2.tasks.abs_task import AbsTask
from espnet2.torch_utils.initialize import initialize
from espnet2.train.class_choices import ClassChoices
from espnet2.train.collate_fn import CommonCollateFn
from espnet2.train.trainer import Trainer
from espnet2.utils.types import int_or_none, str_or_none
from typeguard import typechecked

from espnet_brain.fmri.espnet_model import ESPnetFMRIEncodingModel
from espnet_brain.fmri.frontend import AbsEncodingFrontend, SSLWindowFrontend
from espnet_brain.fmri.readout import FIRLinearHead, FIRLowRankHead, FIRReadout
from espnet_brain.fmri.spectral import LogMelWindowFrontend

frontend_choices = ClassChoices(
    "frontend",
    classes=dict(ssl_windows=SSLWindowFrontend, logmel=LogMelWindowFrontend),
    type_check=AbsEncodingFrontend,
    default="ssl_windows",
)
head_choices = ClassChoices(
    "head",
    classes=dict(fir_linear=FIRLinearHead, fir_lowrank=FIRLowRankHead),
    type_check=FIRReadout,
    default="fir_lowrank",
)
model_choices = ClassChoices(
    "model",
    classes=dict(fmri_encoding=ESPnetFMRIEncodingModel),
    type_check=ESPnetFMRIEncodingModel,
    default="fmri_encoding",
)


class FMRIEncodingTask(AbsTask):
    """Speech-to-fMRI encoding models trained with ESPnet's trainer (launcher, resume, multi-GPU as usual)."""

    num_optimizers: int = 1

    class_choices_list = [frontend_choices, head_choices, model_choices]

    trainer = Trainer

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser):
        group = parser.add_argument_group(description="Task related")
        group.add_argument(
            "--n_voxels",
            type=int_or_none,
            default=None,
            help="Number of voxels V predicted by the head (dump/n_voxels of the data preparation)",
        )
        group.add_argument(
            "--init",
            type=lambda x: str_or_none(x.lower()),
            default=None,
            choices=["chainer", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", None],
            help="Initialisation of the new parameters (the pretrained speech model is reloaded afterwards)",
        )
        for class_choices in cls.class_choices_list:
            # --frontend, --frontend_conf, --head, --head_conf, --model, --model_conf
            class_choices.add_arguments(group)

    @classmethod
    @typechecked
    def build_collate_fn(
        cls, args: argparse.Namespace, train: bool
    ) -> Callable[[Collection[Tuple[str, Dict[str, np.ndarray]]]], Tuple[List[str], Dict[str, torch.Tensor]]]:
        # tr_start is one number per chunk: no lengths for it
        return CommonCollateFn(float_pad_value=0.0, int_pad_value=-1, not_sequence=["tr_start"])

    @classmethod
    @typechecked
    def build_preprocess_fn(
        cls, args: argparse.Namespace, train: bool
    ) -> Optional[Callable[[str, Dict[str, np.ndarray]], Dict[str, np.ndarray]]]:
        return None

    @classmethod
    def required_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        if inference:
            return ("speech", "tr_start")
        return ("speech", "response", "tr_start")

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return ()

    @classmethod
    @typechecked
    def build_model(cls, args: argparse.Namespace) -> ESPnetFMRIEncodingModel:
        if args.n_voxels is None or args.n_voxels < 1:
            raise ValueError(f"--n_voxels: expected the number of voxels (>= 1), got {args.n_voxels}")
        frontend = frontend_choices.get_class(args.frontend)(**args.frontend_conf)
        head_conf = dict(args.head_conf)
        for key in ("input_size", "n_voxels"):
            if key in head_conf:
                raise ValueError(f"head_conf.{key}: set by the task (frontend output size, --n_voxels); remove it")
        head = head_choices.get_class(args.head)(input_size=frontend.output_size(), n_voxels=args.n_voxels, **head_conf)
        model = model_choices.get_class(args.model)(frontend=frontend, head=head, **args.model_conf)
        if getattr(args, "init", None) is not None:
            # ESPnet's initialize() ends with model.frontend.reload_pretrained_parameters(): the speech model keeps
            # its pretrained weights, the head gets the chosen initialisation.
            initialize(model, args.init)
        n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
        n_all = sum(p.numel() for p in model.parameters())
        logging.info(f"fMRI encoding model: {n_train} of {n_all} parameters trainable")
        return model
