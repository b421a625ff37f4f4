"""Accuracy evaluation on real data: the data sets (``datasets``, fetched once by ``python -m tataa.eval.datasets
fetch``) and the two models the project trains itself (``trained``: a GPT-2 on Jane Austen, a ViT on digits)."""
