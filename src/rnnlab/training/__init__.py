"""Floor 4: one training run and what comes back from it.

    api.py        rnnlab.train(): options -> checked configs, task, model, Trainer
    defaults.py   THE table of general defaults (rnnlab train and rnnlab.train() both read it)
    trainer.py    the loop: truncated BPTT, validation, checkpoints, signals, exact resume
    hooks.py      what a task may add: defaults from its data, ensembles, a review
    run_folder.py RunFolder: the only reader and writer of a run's files
    load.py       load(RUN): asks the task registry, names no task
    backtest.py   rnnlab.backtest: rolling origin, a model trained at each origin
    distributed.py  rnnlab train --nproc N: the Trainer on every rank of a torch process group
    launch.py     starting those processes (spawn, torchrun) and ending them all, on faults too
"""
