"""cocogoat_utils: the layers, models, losses, training loop and trained models the Cocogoat notebooks share.

One module per concept (the README's package table describes each):

- ``runtime``        seeds, devices and precision, processes, the scale table, where outputs go (``home``)
- ``experiment``     a notebook's run: its set-up, quality metrics and summary
- ``comparison``, ``shipped_beside``, ``measures``   equal-time comparisons; a shipped model beside the live run; small measurements of runs
- ``study``          recorded comparisons with seeds (``python -m cocogoat_utils.study``)
- ``data``           image sets, folders of images, torchvision sets, value ranges
- ``openmoji``       the embedded dataset, rendered locally
- ``device_dataset`` a small dataset on the device that hands out random batches
- ``augment``, ``degrade``, ``boxes``   augmentations; scraped-image degradations; subject boxes and crops
- ``labels``, ``label_widgets``, ``selection``   crash-proof label/box stores; the widgets that fill them; the selector's bookkeeping
- ``layers``         building blocks, the generators' interface, the one weight-init function
- ``models``         one file per model family
- ``losses``         GAN losses and gradient penalties
- ``diffusion``      noise schedules, the forward process, DDPM and DDIM samplers, guidance
- ``train``          the one loop (``train.loop``) and what plugs into it: GANs, diffusion, progressive, callbacks
- ``checkpoint``, ``bundled``     atomic save, safe load, resume; where the files shipped in the package are found
- ``features``, ``metrics``   the judge's feature spaces; FD with its interval, precision/recall, coverage and the findings (collapse, copies, dropped modes)
- ``viz``, ``latent``, ``widgets``   pictures; the generator's noise; notebook sliders
- ``pretrain``, ``shipped``          the recipes that train and export the shipped models; loading them
- ``report``, ``execute``            the results table; papermill without the widget-cell hang
"""

__version__ = "0.2.0"
