"""cocogoat_utils: the layers, models, losses and training loops the Cocogoat notebooks share.

One module per concept (see ``../shared/DESIGN.md``):

- ``runtime``     seeds, device choice, the notebook ``scale`` table
- ``data``        the embedded OpenMoji dataset, image folders, the device-resident dataset
- ``augment``     augmentations on device tensors (flips, jitter, elastic, DiffAugment)
- ``degrade``     scraped-image degradations and the DataSelector's task
- ``labels``      hand labels in a crash-proof CSV, and the labeller widget
- ``selection``   the DataSelector's held-out split and dataset filter
- ``metrics``     FD, KID, precision/recall, diversity in a fixed feature space
- ``layers``      building blocks and the one weight-init function
- ``models``      one file per model family
- ``losses``      GAN losses
- ``train``       the training loops and their callbacks
- ``checkpoint``  atomic save, safe load, resume
- ``viz``         grids, loss plots, GIFs, widgets
"""

__version__ = "0.1.0"
