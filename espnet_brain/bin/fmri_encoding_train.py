"""Train a speech-to-fMRI encoding model with ESPnet's trainer.

``python -m espnet_brain.bin.fmri_encoding_train --config conf/train.yaml --n_voxels V ...`` accepts ESPnet's
training options (``--resume``, ``--max_epoch``, ``--batch_size``, ``--best_model_criterion``, ...) plus the task's
choices (``--frontend ssl_windows``, ``--head fir_linear|fir_lowrank``, ``--model fmri_encoding``). Multi-GPU and
multi-node runs go through ESPnet's launcher, e.g.
``python -m espnet2.bin.launch --cmd run.pl --ngpu 4 ... -- python -m espnet_brain.bin.fmri_encoding_train ...``.
"""

from typing import Optional, Sequence

from espnet_brain.tasks.fmri_encoding import FMRIEncodingTask


def get_parser():
    return FMRIEncodingTask.get_parser()


def main(cmd: Optional[Sequence[str]] = None) -> None:
    FMRIEncodingTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
