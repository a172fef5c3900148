"""Helpers for the Trustworthy AI Workbook: the public API, in one place.

Each module holds one idea; the chapters import from them. Every public name is listed
here (the module's ``__all__``); ``tests/test_package.py`` keeps this list complete.

* :mod:`trustworthy_lib.data` -- checksummed loaders for the data pack, and the task
  builders of the chapters:
  ``ADULT_COLUMNS``, ``COMPAS_RACES``, ``DEBIAN_FASHION_MNIST``,
  ``FASHION_MNIST_CLASSES``, ``IMAGES``, ``MEPS_FEATURES``, ``MEPS_QUARTER_FEATURES``,
  ``data_dir``, ``DataFileError``, ``FashionMNISTSplits``, ``load_adult``,
  ``load_compas``, ``load_fashion_mnist``, ``load_image``, ``load_meps``,
  ``load_movie_reviews``, ``make_meps_quarter_task``, ``make_meps_task``,
  ``MEPSQuarterTask``, ``MEPSTask``, ``propublica_compas``, ``sha256``,
  ``verified_path``
* :mod:`trustworthy_lib.utils` -- device choice and explicit seeding:
  ``SEED_VARIABLE``, ``chapter_seed``, ``eval_mode``, ``get_device``,
  ``seed_everything``
* :mod:`trustworthy_lib.metrics` -- the confusion matrix, and the group-fairness metrics
  by name (thin wrappers over fairness.group_metrics):
  ``ConfusionCounts``, ``confusion_counts``, ``group_confusion``, ``group_rates``,
  ``demographic_parity_difference``, ``disparate_impact``,
  ``equal_opportunity_difference``, ``false_positive_rate_difference``,
  ``average_odds_difference``, ``equalized_odds_difference``,
  ``predictive_parity_difference``
* :mod:`trustworthy_lib.fairness` -- the one group-fairness engine, threshold sweeps,
  bootstrap intervals, AIF360 and fairlearn glue:
  ``ALL_METRICS``, ``METRIC_NAMES``, ``aif360_groups``, ``bootstrap_group_metrics``,
  ``chouldechova_fpr``, ``from_binary_label_dataset``, ``generalized_error_rates``,
  ``group_metrics``, ``group_metrics_by_threshold``, ``load_meps_panel19``,
  ``positive_probability``, ``quiet_import_warnings``, ``threshold_optimizer_rules``,
  ``to_binary_label_dataset``
* :mod:`trustworthy_lib.interpretability` -- model complexity, the
  accuracy-complexity table and a paired bootstrap of an AUROC difference:
  ``model_complexity``, ``accuracy_complexity_table``, ``paired_bootstrap_auroc``
* :mod:`trustworthy_lib.probes` -- hidden-state embeddings (cached), interventions and
  linear probes:
  ``cached_layer_embeddings``, ``control_task_labels``, ``embeddings_cache_dir``,
  ``layer_embeddings``, ``mean_pool``, ``noise_intervention``,
  ``probe_accuracy_by_layer``, ``single_layer_embeddings``, ``train_probe``,
  ``wilson_interval``
* :mod:`trustworthy_lib.pretrained` -- the packaged MiniLM and EfficientNet-Lite0, read
  offline:
  ``CROP``, ``IMAGENET_MEAN``, ``IMAGENET_STD``, ``MINILM_NAME``, ``RESIZE``,
  ``crop_image``, ``efficientnet_lite0_weights_path``, ``imagenet_class_id``,
  ``imagenet_classes``, ``load_efficientnet_lite0``, ``load_minilm``,
  ``load_minilm_tokenizer``, ``minilm_path``, ``ModelFileError``,
  ``preprocess_image``, ``preprocess_pair``
* :mod:`trustworthy_lib.gradcam` -- Grad-CAM, Grad-CAM++, occlusion and sanity checks:
  ``find_last_conv``, ``grad_cam_plus_plus``, ``gradcam``, ``occlusion_map``,
  ``overlay``, ``randomize_top_layers``, ``rank_correlation``, ``resolve_layer``
* :mod:`trustworthy_lib.regression` -- the toy regression problem, its networks and
  their predictive variances:
  ``GAPS``, ``X_RANGE``, ``fit_regressor``, ``in_gap``, ``l2_penalty``,
  ``make_toy_regression``, ``MLPEnsemble``, ``noise_std``, ``plot_mean_and_band``,
  ``predict_gaussian``, ``predict_mc_dropout``, ``predict_mean``,
  ``select_mc_dropout_tau``, ``shade_data_regions``, ``StackedLinear``,
  ``torch_threads``, ``toy_regressor``, ``true_function``
* :mod:`trustworthy_lib.luq` -- Lightning UQ Box glue: dictionary batches, quiet
  training, cached modules:
  ``INPUT_KEY``, ``TARGET_KEY``, ``dict_loader``, ``DictDataModule``, ``DictDataset``,
  ``fit_quietly``, ``HalfMSE``, ``luq_deep_ensemble``, ``luq_train_or_load``,
  ``member_as_sequential``, ``predict_dict``, ``quiet_lightning``, ``quiet_trainer``,
  ``regression_report``, ``SoftplusLogVariance``, ``test_quietly``, ``timed_predict``,
  ``train_luq``, ``without_training_metrics``
* :mod:`trustworthy_lib.uncertainty` -- MC dropout, ensembles, evidential losses and
  uncertainty decompositions:
  ``clamped_exp``, ``dirichlet_entropy_decomposition``, ``dirichlet_probs``,
  ``dirichlet_vacuity``, ``dropout_active``, ``ensemble_predict``,
  ``entropy_decomposition``, ``evidential_loss``, ``EvidentialCriterion``,
  ``gaussian_nll``, ``maxnorm_loss``, ``mc_dropout_predict``, ``mc_dropout_samples``,
  ``mc_dropout_tau``, ``variance_decomposition``
* :mod:`trustworthy_lib.conformal` -- split conformal prediction: quantiles, prediction
  sets, coverage:
  ``METHODS``, ``PrefitProbabilities``, ``SplitConformalClassifier``,
  ``SplitConformalRegressor``, ``area_under_risk_coverage``,
  ``classification_scores``, ``conformal_quantile``, ``coverage``,
  ``coverage_by_group``, ``coverage_over_splits``, ``group_coverage_over_splits``,
  ``mean_set_size``, ``mean_width``, ``quantile_rank``, ``risk_coverage_curve``,
  ``threshold_for_accuracy``
* :mod:`trustworthy_lib.calibration` -- ECE, reliability diagrams, proper scores and
  temperature scaling:
  ``brier_score``, ``calibration_bins``, ``CalibrationBins``, ``check_probabilities``,
  ``expected_calibration_error``, ``negative_log_likelihood``,
  ``probabilistic_scores``, ``reliability_diagram``, ``TemperatureScaler``
* :mod:`trustworthy_lib.models` -- the small Fashion-MNIST CNN, its training loop and
  the verified model cache:
  ``cache_dir``, ``config_key``, ``encode_labels``, ``extract_features``,
  ``predict_logits``, ``SmallCNN``, ``train_classifier``, ``train_or_load``,
  ``training_code_version``, ``workbook_cnn``, ``WORKBOOK_TRAIN_PER_CLASS``
* :mod:`trustworthy_lib.training` -- the one training loop (Adam, device, modes, bar,
  history) behind the classifier, contrastive and regression trainers:
  ``BatchLoss``, ``ShuffledBatches``, ``fit``
* :mod:`trustworthy_lib.contrastive` -- supervised contrastive learning for
  distance-based OOD detection:
  ``ContrastiveCNN``, ``augment``, ``contrastive_cnn``,
  ``supervised_contrastive_loss``, ``train_contrastive``
* :mod:`trustworthy_lib.toy` -- the 2-D toy classification problem and rings far from
  its data:
  ``CLUSTER_CENTRES``, ``ring``, ``three_clusters``
* :mod:`trustworthy_lib.ood` -- OOD scores from logits and distance-based detectors
  (torch):
  ``KNN``, ``Mahalanobis``, ``binary_logits``, ``energy_score``, ``max_logit_score``,
  ``msp_score``
* :mod:`trustworthy_lib.ood_evaluation` -- OOD metrics, the three-way threshold sweep
  and detector tables (NumPy only):
  ``METRIC_NAMES``, ``OOD_LABEL``, ``detector_table``, ``fpr_at_tpr``,
  ``ood_confusion_matrix``, ``ood_metrics``, ``ood_threshold_sweep``,
  ``threshold_at_tpr``
* :mod:`trustworthy_lib.ood_benchmark` -- the Fashion-MNIST OOD benchmark sets, pixel
  baselines and AUROC differences:
  ``FAR_OOD_CLASSES``, ``ID_CLASSES``, ``NEAR_OOD_CLASSES``, ``OOD_SET_NAMES``,
  ``OODBenchmark``, ``auroc_difference``, ``bootstrap_auroc``,
  ``cnn_features_and_logits``, ``load_ood_benchmark``, ``pixel_logistic_regression``,
  ``pixel_logits``
* :mod:`trustworthy_lib.modelcard` -- building, validating and rendering model cards:
  ``LESSON_CHECKLIST``, ``NOT_MEASURED``, ``REQUIRED_METADATA``,
  ``REQUIRED_SECTIONS``, ``build_model_card``, ``card_sections``, ``card_to_html``,
  ``lesson_checklist``, ``MissingMetricError``, ``ModelCardResult``,
  ``validate_model_card``
* :mod:`trustworthy_lib.release` -- saving, loading and sharing models without
  unpickling code:
  ``CONFIG_NAME``, ``WEIGHTS_NAMES``, ``HubSmallCNN``, ``load_model``,
  ``load_weights``, ``push_to_hub_if_token``, ``save_model``

Conventions held across modules: labels are 0/1 with 1 the positive (favourable) class;
group-fairness differences are unprivileged minus privileged; an OOD score is larger for
outliers; every input is checked by ``trustworthy_lib._validation`` (a wrong type raises
``InputTypeError``, use before ``fit`` raises ``NotFittedError``, both ``ValueError``
subclasses); cache files are written atomically and verified on load
(``trustworthy_lib._cache``).

Importing the package changes no global state: no seeds are set, no threads are
configured and nothing is downloaded. Call :func:`seed_everything` yourself.
"""

from trustworthy_lib.utils import chapter_seed, get_device, seed_everything

__all__ = ["chapter_seed", "get_device", "seed_everything"]
__version__ = "0.1.0"
