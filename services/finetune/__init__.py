"""`vigie finetune`: LoRA adapters of registry models, trained on this machine (torch + PEFT).

Needs the training extra (``vigie[train]``, ops/lock/train.txt); nothing else imports it.
"""
