"""What a model is trained on, and what a trained model can do.

    base.py      the Task protocol, the TrainedModel base, task options
    model.py     ModelConfig and SequenceModel: encoder + recurrent stack + head
    text.py, series.py, music.py    each task: its data pipeline, task and trained model
    stream.py    token-at-a-time generation on the kernels' steppers
    registry.py  the tasks by name and by file type
"""
