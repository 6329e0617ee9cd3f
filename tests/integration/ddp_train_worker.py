"""Train with ESPnet's trainer and save every rank's weights (a helper of test_ddp.py, run by torchrun).

ESPnet writes checkpoints on rank 0 only, so a test cannot tell from them whether the ranks stayed in
step. This program runs ``BrainASRTask.main`` with a :class:`Trainer` subclass that saves each rank's
``model.state_dict()`` before training (``<output_dir>/rank<r>_init.pth``) and after it
(``<output_dir>/rank<r>.pth``). Every other argument goes to the trainer unchanged::

    python -m torch.distributed.run --nproc_per_node 2 tests/integration/ddp_train_worker.py \\
        --ngpu 0 --dist_backend gloo --multiprocessing_distributed false --config train.yaml ...
"""

import sys
from pathlib import Path

import torch
from espnet2.train.trainer import Trainer

from espnet_brain.tasks.brain_asr import BrainASRTask


def _rank(distributed_option) -> int:
    return int(distributed_option.dist_rank) if distributed_option.distributed else 0


class RankSavingTrainer(Trainer):
    """ESPnet's trainer, plus each rank's weights written before and after :meth:`Trainer.run`."""

    @classmethod
    def run(
        cls,
        model,
        optimizers,
        schedulers,
        train_iter_factory,
        valid_iter_factory,
        plot_attention_iter_factory,
        trainer_options,
        distributed_option,
    ) -> None:
        output_dir = Path(trainer_options.output_dir)
        # ESPnet creates the output directory on rank 0 only; the other ranks may get here first.
        output_dir.mkdir(parents=True, exist_ok=True)
        rank = _rank(distributed_option)
        # Copies on CPU: the state dict holds references that training would update in place.
        initial = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        torch.save(initial, output_dir / f"rank{rank}_init.pth")
        super().run(
            model,
            optimizers,
            schedulers,
            train_iter_factory,
            valid_iter_factory,
            plot_attention_iter_factory,
            trainer_options,
            distributed_option,
        )
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, output_dir / f"rank{rank}.pth")


def main() -> None:
    BrainASRTask.trainer = RankSavingTrainer
    BrainASRTask.main(cmd=sys.argv[1:])


if __name__ == "__main__":
    main()
