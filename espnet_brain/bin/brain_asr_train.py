"""Train a brain (or audio) decoder with ESPnet's trainer.

``python -m espnet_brain.bin.brain_asr_train --config conf/train.yaml ...`` accepts every option
of ``espnet2.bin.asr_train`` plus the plugin's choices (``--frontend brain_gru``,
``--encoder hf_ssl``, ``--scheduler transferlr``), ``--encoder_lr`` and ``--ctc_init``.
Multi-GPU and multi-node runs go through ESPnet's launcher as usual, e.g.
``python -m espnet2.bin.launch --cmd 'run.pl' --ngpu 4 ... python -m espnet_brain.bin.brain_asr_train``.
"""

from typing import Optional, Sequence

from espnet_brain.tasks.brain_asr import BrainASRTask


def get_parser():
    return BrainASRTask.get_parser()


def main(cmd: Optional[Sequence[str]] = None) -> None:
    BrainASRTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
