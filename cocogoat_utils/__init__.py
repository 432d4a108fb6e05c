"""cocogoat_utils: the layers, models, losses, training loop and trained models the Cocogoat notebooks share.

One module per concept (the README's package table describes each):

- ``runtime``        seeds, devices and precision, processes, the scale table, where outputs go (``home``)
- ``experiment``     a notebook's run: start, quality metrics, equal-time comparisons, tables, summary
- ``data``           image sets, folders of images, torchvision sets, value ranges
- ``openmoji``       the embedded dataset, rendered locally
- ``device_dataset`` a small dataset on the device that hands out random batches
- ``augment``, ``degrade``, ``boxes``   augmentations; scraped-image degradations; subject boxes and crops
- ``labels``, ``labelling``, ``selection``   crash-proof label/box stores; their widgets; the selector's bookkeeping
- ``layers``         building blocks, the generators' interface, the one weight-init function
- ``models``         one file per model family
- ``losses``         GAN losses and gradient penalties
- ``diffusion``      noise schedules, the forward process, DDPM and DDIM samplers, guidance
- ``train``          the one loop (``train.loop``) and what plugs into it: GANs, diffusion, progressive, callbacks
- ``checkpoint``     atomic save, safe load, resume
- ``metrics``        FD, KID, precision/recall, diversity and collapse in a fixed feature space
- ``viz``, ``latent``, ``widgets``   pictures; the generator's noise; notebook sliders
- ``pretrain``, ``pretrained``       train and export the shipped models; load them
- ``report``, ``execute``            the results table; papermill without the widget-cell hang
"""

__version__ = "0.2.0"
