"""Mutation testing of the model layer's arithmetic with mutmut: which mutants count, the
ones left alive as equivalent (with the reason), and the score.

    python setup.py build_ext --inplace      # mutmut copies the built package
    python tests/mutation/python_mutants.py run          # mutmut run over the scope below
    python tests/mutation/python_mutants.py score        # the table for tests/README.md
    python tests/mutation/python_mutants.py equivalents  # the equivalent ones, likewise

pyproject.toml's [tool.mutmut] names the files; SCOPE narrows estimators.py to how the
estimators score, predict and weigh (not their persistence, parameter plumbing or
scikit-learn tags). `score` reads mutmut's results in mutants/ and exits 1 when fewer
than TARGET of the counted mutants are killed. Mutant names carry a number per function,
so after editing a function, re-check the EQUIVALENT entries that name it."""
import argparse
import ast
import fnmatch
import glob
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = 0.90

SCOPE = [
    "neuralcli.optim.*",
    "neuralcli.losses.*",
    "neuralcli.metrics.*",
    "neuralcli.training.*",
    "neuralcli.schedules.*",
    "neuralcli.preprocess.*",
    "neuralcli.head.*",
    # the estimators: scoring, prediction, targets and weights
    "neuralcli.estimators.xǁ_SkRegressorǁscore__mutmut_*",
    "neuralcli.estimators.xǁ_SkClassifierǁscore__mutmut_*",
    "neuralcli.estimators.xǁ_BaseMLPǁ_forward__mutmut_*",
    "neuralcli.estimators.xǁ_BaseMLPǁ_record__mutmut_*",
    "neuralcli.estimators.xǁMLPClassifierǁ*",
    "neuralcli.estimators.xǁMLPRegressorǁ*",
]
# ... except what is not arithmetic: the estimators' fitting plumbing and tags, and the
# preprocessing's sentences for people (as raise and warning messages are left out in
# pyproject.toml)
OUT_OF_SCOPE = [
    "neuralcli.preprocess.x_date_text__mutmut_*",
    "neuralcli.preprocess.x__count__mutmut_*",
    "neuralcli.preprocess.xǁTaskDecisionǁ__repr____mutmut_*",
    "neuralcli.preprocess.xǁPreprocessorǁdescribe__mutmut_*",
    "neuralcli.preprocess.xǁPreprocessorǁencoding__mutmut_*",
    "neuralcli.preprocess.xǁPreprocessorǁ_how__mutmut_*",
    "neuralcli.preprocess.xǁPreprocessorǁfill_notes__mutmut_*",
    "neuralcli.estimators.xǁ*ǁ__init____mutmut_*",
    "neuralcli.estimators.xǁ*ǁ__sklearn_tags____mutmut_*",
    "neuralcli.estimators.xǁ*ǁfit__mutmut_*",
    "neuralcli.estimators.xǁ*ǁpartial_fit__mutmut_*",
    "neuralcli.estimators.xǁ*ǁ_n_outputs_for__mutmut_*",
    "neuralcli.estimators.xǁ*ǁ_task_kind__mutmut_*",
]

_F64 = "astype(None) is astype(float64)"
_NEG = "numpy reads any negative size in reshape as the one unknown dimension"
_SGD = ("the compiled SGD step reads momentum, weight decay, Nesterov and its velocity only "
        "(train_optimize in csrc/train_impl.h)")
_RMS = ("the compiled RMSprop step reads alpha, eps, weight decay, momentum and its two "
        "buffers only (train_optimize in csrc/train_impl.h)")
_ADAM = ("the compiled Adam step reads beta1, beta2, eps, weight decay, the step and "
         "decoupled only (train_optimize in csrc/train_impl.h)")
_KINDS = "dtype kinds are single letters, and 'X' is none: the same letters still match"
_TOTAL = ("the total weight is never 0 here: weights summing to 0 are refused and "
          "unweighted rows count 1 each")
_YPRED = ("y_pred only enters as yt - yp with yt float64, which numpy computes in float64 "
          "for any numeric y_pred")
_CLIP = ("after the renormalisation that follows, clipping a probability of 1 at 1 - eps "
         "or not changes the loss by O(eps^2), below float64's resolution of it")
_SORT = ("only the order inside a group of equal scores changes, and each group's weights "
         "are summed as one: at most the last bit of that sum")

_DAYS = "float64 holds these day and month counts exactly; they feed % and sin/cos"
_INTS = "a list of Python ints becomes int64 by default"
_NOTASK = ("a preprocessor without a task (inspect's fit that collects problems) is read "
           "for its task and reason only")
_PARSED = "a list of floats and NaN becomes float64 by default"
_KIND = "a Summary only tells \"text\" from every other kind"
_FLOATS = "a list of Python floats (or an empty list) becomes float64 by default"
_VALUES = ("keeping the values costs memory only: they are read for median and "
           "most-frequent fills, which ask for them")
_SHIFT = "merge(value=...) runs only after present values have set the shift"
_NOROWS = "no class means no rows, and an empty training set is refused before any split"
_OTHER64 = ("y and pred meet only in y - pred and in products with float64 weights: one "
            "float64 operand makes them float64")
_TAKE = "every index is in range, so clipping (or raising) never applies"
_UNSEEN = ("only the codes of categories that occur are looked up: a missing target is "
           "refused first")
_GAPLESS = ("the key of a column without gaps is the same for all of them and sorts after "
            "every (0, row) key either way")
_STORED = "the model file stores these arrays as float64"
_NAMES = ("a text column's names are str, and number_text gives a str back unchanged "
          "(neuralcli/writer.py)")
_WORK = ("only the size of the workspace for a short last batch changes: the GEMM fits its "
         "packing and threads to the workspace it is given (csrc/gemm.c), and the results "
         "agree within rounding (test_compiled_runs_whose_last_batch_needs_more_workspace)")

# mutant name -> why no test can tell it from the original
EQUIVALENT = {
    "neuralcli.estimators.xǁMLPClassifierǁ_encode_targets__mutmut_9":
        "1-D binary targets: Trainer._prepare reshapes 1-D targets to (N, 1)",
    "neuralcli.estimators.xǁMLPClassifierǁ_encode_targets__mutmut_10": _F64,
    "neuralcli.estimators.xǁMLPClassifierǁ_encode_targets__mutmut_12": _NEG,
    "neuralcli.estimators.xǁMLPClassifierǁ_encode_targets__mutmut_14":
        "float64 class codes: Trainer._prepare casts labels to int32 for cross-entropy",
    "neuralcli.estimators.xǁMLPClassifierǁ_fold_class_weight__mutmut_12": _F64,
    "neuralcli.estimators.xǁMLPClassifierǁ_fold_class_weight__mutmut_16":
        "without minlength bincount drops only trailing classes absent from y, whose "
        "weights are never looked up; the formula divides by len(classes_)",
    "neuralcli.estimators.xǁMLPRegressorǁ_encode_targets__mutmut_6": _NEG,
    "neuralcli.estimators.xǁMLPRegressorǁ_targets__mutmut_4": _KINDS,
    "neuralcli.estimators.xǁMLPRegressorǁ_targets__mutmut_7": _F64,
    "neuralcli.estimators.xǁMLPRegressorǁ_targets__mutmut_9": _F64,
    "neuralcli.estimators.xǁ_BaseMLPǁ_forward__mutmut_10": _F64,
    "neuralcli.metrics.x__binary_auc__mutmut_7": _SORT,
    "neuralcli.metrics.x__binary_auc__mutmut_9": _SORT,
    "neuralcli.metrics.x__binary_auc__mutmut_11": "numpy reads the sort kind's name in any "
                                                   "case",
    "neuralcli.metrics.x__confusion__mutmut_16": _F64,
    "neuralcli.metrics.x__counts__mutmut_5": _F64,
    "neuralcli.metrics.x__divide__mutmut_3": "num is always float64 (counts of a float64 "
                                             "confusion matrix)",
    "neuralcli.metrics.x__divide__mutmut_5": "num is always float64 (counts of a float64 "
                                             "confusion matrix)",
    "neuralcli.metrics.x__labels__mutmut_22": _KINDS,
    "neuralcli.metrics.x__prf__mutmut_30": _TOTAL,
    "neuralcli.metrics.x__prf__mutmut_37": _TOTAL,
    "neuralcli.metrics.x__prf__mutmut_39": _TOTAL,
    "neuralcli.metrics.x__targets__mutmut_8": _YPRED,
    "neuralcli.metrics.x__targets__mutmut_10": _YPRED,
    "neuralcli.metrics.x_accuracy__mutmut_18": _F64,
    "neuralcli.metrics.x_baseline_regression__mutmut_31": "the mean becomes y_pred, which "
                                                          "_targets reads as float64",
    "neuralcli.metrics.x_baseline_regression__mutmut_33": "the mean becomes y_pred, which "
                                                          "_targets reads as float64",
    "neuralcli.metrics.x_log_loss__mutmut_20": _CLIP,
    "neuralcli.metrics.x_log_loss__mutmut_24": _CLIP,
    "neuralcli.metrics.x_log_loss__mutmut_25": _CLIP,
    "neuralcli.metrics.x_roc_auc__mutmut_37":
        "without minlength bincount drops only trailing classes absent from y_true, which "
        "are skipped as absent either way",
    "neuralcli.optim.xǁSGDǁcompiled__mutmut_7": _SGD,
    "neuralcli.optim.xǁSGDǁcompiled__mutmut_8": _SGD,
    "neuralcli.optim.xǁSGDǁcompiled__mutmut_9": _SGD,
    "neuralcli.optim.xǁSGDǁcompiled__mutmut_10": _SGD,
    "neuralcli.optim.xǁSGDǁcompiled__mutmut_11": _SGD,
    "neuralcli.optim.xǁRMSpropǁcompiled__mutmut_9": _RMS,
    "neuralcli.optim.xǁRMSpropǁcompiled__mutmut_10": _RMS,
    "neuralcli.optim.xǁRMSpropǁcompiled__mutmut_11": _RMS,
    "neuralcli.optim.xǁRMSpropǁcompiled__mutmut_12": _RMS,
    "neuralcli.optim.xǁAdamǁcompiled__mutmut_4": _ADAM,
    "neuralcli.optim.xǁAdamǁcompiled__mutmut_5": _ADAM,
    "neuralcli.optim.xǁAdamǁcompiled__mutmut_6": _ADAM,
    "neuralcli.schedules.xǁReduceOnPlateauǁ__init____mutmut_17":
        "the first loss observed is finite (a non-finite one stops training as a "
        "divergence) and improves on the starting best of inf, which resets the count",
    "neuralcli.schedules.xǁReduceOnPlateauǁ__init____mutmut_18":
        "the first loss observed is finite (a non-finite one stops training as a "
        "divergence) and improves on the starting best of inf, which resets the count",
    "neuralcli.schedules.xǁStepDecayǁ__init____mutmut_19":
        "int(max(1, e / 3)) equals max(1, e // 3) for every positive e",
    "neuralcli.optim.xǁOptimizerǁ__init____mutmut_1":
        "every optimizer passes its own weight_decay to the base class",
    # preprocess
    "neuralcli.preprocess.xǁPreprocessorǁ__init____mutmut_1":
        "not None is as true as not False: an unfitted preprocessor still refuses",
    "neuralcli.preprocess.xǁPreprocessorǁfrom_meta__mutmut_205":
        "bool(None) is False, the same default",
    "neuralcli.preprocess.xǁPreprocessorǁfrom_meta__mutmut_207":
        "bool(None) is False, the same default",
    "neuralcli.preprocess.xǁPreprocessorǁfit_chunks__mutmut_122":
        "only which classes occur is read (flatnonzero), not how many places the count has",
    "neuralcli.preprocess.xǁPreprocessorǁtarget_of__mutmut_150": _NAMES,
    "neuralcli.preprocess.xǁPreprocessorǁtarget_of__mutmut_154": _NAMES,
    "neuralcli.preprocess.xǁPreprocessorǁtarget_of__mutmut_155": _NAMES,
    "neuralcli.preprocess.xǁPreprocessorǁtransform__mutmut_57":
        "_values takes a notes argument it does not use",
    "neuralcli.preprocess.x__date_parts__mutmut_2": _DAYS,
    "neuralcli.preprocess.x__date_parts__mutmut_10": _DAYS,
    "neuralcli.preprocess.xǁPreprocessorǁ_codes__mutmut_46":
        "a missing cell's place only needs to be negative: np.where sends every negative "
        "place to the missing-value slot",
    "neuralcli.preprocess.xǁPreprocessorǁ_codes__mutmut_67": _INTS,
    "neuralcli.preprocess.xǁPreprocessorǁ_codes__mutmut_69": _INTS,
    "neuralcli.preprocess.xǁPreprocessorǁ_codes__mutmut_162":
        "float64 codes are stored into transform's int32 codes array, exactly",
    "neuralcli.preprocess.xǁPreprocessorǁ_fit_column__mutmut_100":
        "every NumberColumn has a number_format field (None by default)",
    "neuralcli.preprocess.xǁPreprocessorǁ_fit_column__mutmut_145": "numpy reads the sort "
                                                                     "kind's name in any case",
    "neuralcli.preprocess.xǁPreprocessorǁ_fit_column__mutmut_179":
        "the last condition, numbers > half the present cells, already implies numbers > 0",
    "neuralcli.preprocess.xǁPreprocessorǁ_fit_column__mutmut_188":
        "a text column holding numbers also holds a word, so at least two cells are present",
    "neuralcli.preprocess.xǁPreprocessorǁ_format1_order__mutmut_43": _INTS,
    "neuralcli.preprocess.xǁPreprocessorǁ_format1_order__mutmut_45": _INTS,
    "neuralcli.preprocess.xǁPreprocessorǁ_no_target__mutmut_2": _NOTASK,
    "neuralcli.preprocess.xǁPreprocessorǁ_no_target__mutmut_3": _NOTASK,
    "neuralcli.preprocess.xǁPreprocessorǁ_no_target__mutmut_4": _NOTASK,
    "neuralcli.preprocess.xǁPreprocessorǁ_no_target__mutmut_6": _NOTASK,
    "neuralcli.preprocess.xǁPreprocessorǁ_no_target__mutmut_7": _NOTASK,
    "neuralcli.preprocess.xǁPreprocessorǁ_parse_text__mutmut_17": _PARSED,
    "neuralcli.preprocess.xǁPreprocessorǁ_parse_text__mutmut_19": _PARSED,
    "neuralcli.preprocess.xǁPreprocessorǁ_parse_text__mutmut_21":
        "None in a float64 array is NaN, as the np.nan it replaces",
    "neuralcli.preprocess.xǁPreprocessorǁ_parse_text__mutmut_29":
        "a missing cell's code is -1, which indexes the NaN appended last just as the "
        "explicit missing slot does",
    "neuralcli.preprocess.xǁPreprocessorǁ_values__mutmut_18": "a NumberColumn's or "
                                                              "DateColumn's values are float64",
    "neuralcli.preprocess.xǁPreprocessorǁtarget_of__mutmut_75": "a NumberColumn's values are "
                                                                "float64",
    "neuralcli.preprocess.xǁPreprocessorǁtarget_of__mutmut_135": _INTS,
    "neuralcli.preprocess.xǁPreprocessorǁtarget_of__mutmut_137": _INTS,
    "neuralcli.preprocess.xǁPreprocessorǁtarget_of__mutmut_143":
        "an unknown label's index only needs to be negative",
    "neuralcli.preprocess.xǁPreprocessorǁfit_chunks__mutmut_33":
        "the first chunk replaces it with {column: 0}; without chunks the fit stops first",
    "neuralcli.preprocess.xǁPreprocessorǁfit_chunks__mutmut_58": _KIND,
    "neuralcli.preprocess.xǁPreprocessorǁfit_chunks__mutmut_59": _KIND,
    "neuralcli.preprocess.xǁPreprocessorǁfit_chunks__mutmut_60": _KIND,
    "neuralcli.preprocess.xǁPreprocessorǁinverse_target__mutmut_3": _F64,
    "neuralcli.preprocess.xǁPreprocessorǁinverse_target__mutmut_5":
        "y * std + mean with float64 std and mean is float64 for any numeric y",
    "neuralcli.preprocess.xǁPreprocessorǁinverse_target__mutmut_6":
        "a regression target that is not scaled keeps mean 0 and std 1, so scaling back "
        "returns y",
    "neuralcli.preprocess.xǁPreprocessorǁto_meta__mutmut_110": _FLOATS,
    "neuralcli.preprocess.xǁPreprocessorǁto_meta__mutmut_112": _FLOATS,
    "neuralcli.preprocess.xǁPreprocessorǁto_meta__mutmut_118": _FLOATS,
    "neuralcli.preprocess.xǁPreprocessorǁto_meta__mutmut_120": _FLOATS,
    "neuralcli.preprocess.xǁPreprocessorǁto_meta__mutmut_126": _FLOATS,
    "neuralcli.preprocess.xǁPreprocessorǁto_meta__mutmut_128": _FLOATS,
    "neuralcli.preprocess.xǁPreprocessorǁto_meta__mutmut_134":
        "decide_task already gives integer labels as int64 and the others as float64",
    "neuralcli.preprocess.xǁSummaryǁ__init____mutmut_1": _VALUES,
    "neuralcli.preprocess.xǁSummaryǁ__init____mutmut_12": _VALUES,
    "neuralcli.preprocess.xǁSummaryǁ__init____mutmut_7":
        "the unit only bounds the squares: any power of two scales the sums exactly",
    "neuralcli.preprocess.xǁSummaryǁ__init____mutmut_8":
        "the first merge sets the mean to 1 + (m - 1) instead of 0 + m: the same value to "
        "the last bit or one ulp",
    "neuralcli.preprocess.xǁSummaryǁ__init____mutmut_18":
        "an initial zero count of category 0 adds nothing to the counts",
    "neuralcli.preprocess.xǁSummaryǁadd__mutmut_22":
        "counts of different lengths are merged either way; trailing zeros add nothing",
    "neuralcli.preprocess.xǁSummaryǁadd__mutmut_25":
        "for counts of equal length both branches add the two arrays",
    "neuralcli.preprocess.xǁSummaryǁmerge__mutmut_6": _SHIFT,
    "neuralcli.preprocess.xǁSummaryǁmerge__mutmut_10": _SHIFT,
    "neuralcli.preprocess.xǁSummaryǁmerge__mutmut_25":
        "rescaling by a power of two at equality is exact: the same sums",
    "neuralcli.preprocess.x__check_numbers__mutmut_5":
        "a DateColumn has no nonfinite count; None is as false as 0",
    "neuralcli.preprocess.x__check_numbers__mutmut_11":
        "the early return only saves work: a column without bad cells has nothing wrong "
        "to find either way",
    "neuralcli.preprocess.x__rows_of__mutmut_6": _INTS,
    "neuralcli.preprocess.x__rows_of__mutmut_8": _INTS,
    "neuralcli.preprocess.x_decide_task__mutmut_78": "a list of str becomes a str array by "
                                                     "default",
    "neuralcli.preprocess.x_decide_task__mutmut_80": "a list of str becomes a str array by "
                                                     "default",
    "neuralcli.preprocess.x_decide_task__mutmut_84": _INTS,
    "neuralcli.preprocess.x_decide_task__mutmut_87": _INTS,
    "neuralcli.preprocess.x_decide_task__mutmut_88": _UNSEEN,
    "neuralcli.preprocess.x_decide_task__mutmut_89": _UNSEEN,
    "neuralcli.preprocess.xǁPreprocessorǁfit_chunks__mutmut_147": _GAPLESS,
    "neuralcli.preprocess.xǁPreprocessorǁfit_chunks__mutmut_148": _GAPLESS,
    "neuralcli.preprocess.xǁPreprocessorǁfrom_meta__mutmut_53": _STORED,
    "neuralcli.preprocess.xǁPreprocessorǁfrom_meta__mutmut_55": _STORED,
    "neuralcli.preprocess.xǁPreprocessorǁfrom_meta__mutmut_60": _STORED,
    "neuralcli.preprocess.xǁPreprocessorǁfrom_meta__mutmut_62": _STORED,
    "neuralcli.preprocess.xǁPreprocessorǁfrom_meta__mutmut_67": _STORED,
    "neuralcli.preprocess.xǁPreprocessorǁfrom_meta__mutmut_69": _STORED,
    # training
    "neuralcli.training.x__correct__mutmut_30": "targets of a binary task are 0 or 1, never "
                                                "0.5",
    "neuralcli.training.xǁTrainerǁ_run__mutmut_8": _WORK,
    "neuralcli.training.xǁTrainerǁ_run__mutmut_9": _WORK,
    "neuralcli.training.xǁTrainerǁ_run__mutmut_10": _WORK,
    "neuralcli.training.xǁTrainerǁ_run__mutmut_12": _WORK,
    "neuralcli.training.xǁTrainerǁ_run__mutmut_22":
        "the carried batch's buffers only spare a second set: the trainer's own gather the "
        "same rows",
    "neuralcli.training.xǁTrainerǁ_run_buffers__mutmut_2": _WORK,
    "neuralcli.training.xǁTrainerǁ_run_buffers__mutmut_6": _WORK,
    "neuralcli.training.xǁTrainerǁ_run_buffers__mutmut_15": _WORK,
    "neuralcli.training.xǁTrainerǁ_run_buffers__mutmut_19": _WORK,
    "neuralcli.training.xǁTrainerǁ_run_buffers__mutmut_30":
        "the network fixes each array's trailing shape; the names tell which arrays a fit "
        "brings, the one thing that changes",
    "neuralcli.training.xǁTrainerǁ_run_buffers__mutmut_34":
        "comparing with the buffers instead of the key always reallocates: memory and time "
        "only",
    "neuralcli.training.xǁTrainerǁ_prepare__mutmut_26": _NEG,
    "neuralcli.training.xǁTrainerǁ__init____mutmut_38":
        "every step sets last_out before anything reads it",
    "neuralcli.training.xǁTrainerǁ_epoch_runs__mutmut_84":
        "the carried batch's buffers only spare a second set: the trainer's own gather the "
        "same rows",
    "neuralcli.training.xǁTrainerǁ_epoch_runs__mutmut_92":
        "the carried batch's buffers only spare a second set: the trainer's own gather the "
        "same rows",
    "neuralcli.training.xǁTrainerǁfit__mutmut_174":
        "no schedule's observe reads the epoch number",
    "neuralcli.training.xǁTrainerǁfit__mutmut_63":
        "the first epoch always improves on the starting best of inf (a non-finite loss "
        "stops training as a divergence first), which resets the count",
    "neuralcli.training.x_validation_split__mutmut_4":
        "the offset from the seed is arbitrary: any gives a seeded, reproducible split",
    "neuralcli.training.x_validation_split__mutmut_30": _NOROWS,
    "neuralcli.training.x_validation_split__mutmut_33": _NOROWS,
    "neuralcli.training.x_validation_split__mutmut_34": _NOROWS,
    "neuralcli.training.x_validation_split__mutmut_35": _NOROWS,
    "neuralcli.training.x_validation_split__mutmut_36": _NOROWS,
    "neuralcli.training.x_validation_split__mutmut_39":
        "a float mask of ones and zeros has the same nonzero places",
    "neuralcli.training.x_validation_split__mutmut_41":
        "a float mask of ones and zeros has the same nonzero places",
    "neuralcli.training.x_validation_split__mutmut_42": "None stored in a bool array is False",
    "neuralcli.training.xǁTrainerǁ_check_spilled__mutmut_24":
        "dense and y are always spilled; only sw, the last entry, can be absent",
    "neuralcli.training.xǁTrainerǁ_evaluate_spilled__mutmut_51":
        "numpy's pairwise float32 sum of a window's weights is within 1e-7 of the float64 "
        "sum, inside the float32 loss kernel's own rounding",
    "neuralcli.training.xǁTrainerǁ_weight_sq__mutmut_5": _NEG,
    "neuralcli.training.xǁTrainerǁstep__mutmut_10": "without L2, l2 / (n * s) is 0.0 too",
    "neuralcli.training.xǁTrainerǁstep__mutmut_117":
        "at norm == clip_norm the clipping scale is clip_norm / norm = 1",
    "neuralcli.metrics.xǁR2Sumǁadd__mutmut_3": _OTHER64,
    "neuralcli.metrics.xǁR2Sumǁadd__mutmut_5": _OTHER64,
    "neuralcli.metrics.xǁR2Sumǁadd__mutmut_8": _OTHER64,
    "neuralcli.metrics.xǁR2Sumǁadd__mutmut_10": _OTHER64,
    "neuralcli.training.xǁ_Rowsǁbatches__mutmut_1":
        "its one caller always passes shuffle",
    "neuralcli.training.xǁ_Rowsǁbatches__mutmut_35": _TAKE,
    "neuralcli.training.xǁ_Rowsǁbatches__mutmut_39": _TAKE,
    "neuralcli.training.xǁ_Rowsǁbatches__mutmut_43":
        "a full batch sliced [:bs] is a view of the same buffers",
}

# Calls whose first argument (and `hint=`) is a sentence for a person: the wording of an
# error, its hint or a note. A mutant that changes only that wording (a word, its case,
# a value shown in it) or drops the hint is counted apart as "message": it is no wrong
# number. Row, column and fix arguments, and every other argument, stay in scope.
MESSAGE_CALLS = {"error", "DataError", "TrainingError", "Note"}


def _functions(module):
    """{function name: ast node} of mutmut's copy of a module (methods included)."""
    path = os.path.join(ROOT, "mutants", "neuralcli", module + ".py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    return {n.name: n for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _is_message_call(node):
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
    if name in MESSAGE_CALLS:
        return True
    # notes.append("..."): a note for the user as a plain string
    return (name == "append" and isinstance(f, ast.Attribute)
            and isinstance(f.value, ast.Name) and f.value.id == "notes")


def _difference(a, b):
    """Where the trees a and b first differ: the steps (node of a, field, list index or
    None) from a down to it, or None when they are equal."""
    if type(a) is not type(b):
        return []
    for field in a._fields:
        x, y = getattr(a, field), getattr(b, field)
        if isinstance(x, list):
            if not isinstance(y, list) or len(x) != len(y):
                return [(a, field, None)]
            for i, (xi, yi) in enumerate(zip(x, y)):
                if isinstance(xi, ast.AST):
                    d = _difference(xi, yi)
                    if d is not None:
                        return [(a, field, i)] + d
                elif xi != yi:
                    return [(a, field, i)]
        elif isinstance(x, ast.AST):
            d = _difference(x, y)
            if d is not None:
                return [(a, field, None)] + d
        elif x != y:
            return [(a, field, None)]
    return None


def _follow(root, steps):
    """The node reached from root by steps (taken in a tree of the same shape)."""
    node = root
    for _, field, index in steps:
        node = getattr(node, field) if index is None else getattr(node, field)[index]
    return node


def _in_message(steps, mutant):
    """True when the difference lies in the message (first argument) or the hint of a
    message call, or is that call's hint left out."""
    for k, (node, field, index) in enumerate(steps):
        if not _is_message_call(node):
            continue
        if field == "args" and index == 0:
            return True
        if field == "keywords" and index is not None and node.keywords[index].arg == "hint":
            return True
        if field == "keywords" and index is None and k + 1 == len(steps):
            kept = [kw.arg for kw in _follow(mutant, steps[:k + 1])]
            return kept == [kw.arg for kw in node.keywords if kw.arg != "hint"] and \
                len(kept) < len(node.keywords)
    return False


def message_mutants(names):
    """The mutants among `names` that change only a message (see MESSAGE_CALLS)."""
    out = set()
    by_module = defaultdict(list)
    for name in names:
        by_module[name.split(".")[1]].append(name)
    for module, group in by_module.items():
        funcs = _functions(module)
        for name in group:
            fname = name.split(".", 2)[2]
            orig = funcs.get(fname.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
            mutant = funcs.get(fname)
            if orig is None or mutant is None:
                continue
            renamed = ast.FunctionDef(**{f: getattr(mutant, f) for f in mutant._fields})
            renamed.name = orig.name
            steps = _difference(orig, renamed)
            if steps and _in_message(steps, renamed):
                out.add(name)
    return out


def in_scope(name):
    return (any(fnmatch.fnmatchcase(name, p) for p in SCOPE)
            and not any(fnmatch.fnmatchcase(name, p) for p in OUT_OF_SCOPE))


def results():
    """{mutant name: exit code or None} from mutmut's files in mutants/."""
    out = {}
    for path in glob.glob(os.path.join(ROOT, "mutants", "neuralcli", "*.py.meta")):
        with open(path) as f:
            out.update(json.load(f)["exit_code_by_key"])
    return out


def status(code):
    if code in (1, 3) or (code is not None and code < 0) or code in (24, 36, 152, 255):
        return "killed"  # failed, crashed or timed out
    return {0: "survived", None: "not checked", 5: "no tests", 33: "no tests"}.get(
        code, "suspicious")


def cmd_run(args):
    names = [n for n in results() if in_scope(n)] if args.only_left else SCOPE
    if args.only_left:
        names = [n for n in names if status(results()[n]) != "killed"
                 and n not in EQUIVALENT]
        names = sorted(set(names) - message_mutants(names))
    return subprocess.call(["mutmut", "run", "--max-children", str(args.jobs), *names],
                           cwd=ROOT)


def cmd_score(args):
    res = {n: c for n, c in results().items() if in_scope(n)}
    if not res:
        print("no mutmut results in mutants/: run `python tests/mutation/python_mutants.py "
              "run` first", file=sys.stderr)
        return 1
    # an entry of EQUIVALENT that names no mutant, or one a test kills, is out of date
    for name in sorted(EQUIVALENT):
        if name not in res:
            print(f"EQUIVALENT names no mutant in scope: {name}", file=sys.stderr)
        elif status(res[name]) == "killed":
            print(f"EQUIVALENT names a killed mutant: {name}", file=sys.stderr)
    by_module = defaultdict(Counter)
    left = []
    messages = message_mutants(res)
    for name, code in sorted(res.items()):
        module = name.split(".")[1]
        st = ("equivalent" if name in EQUIVALENT else
              "message" if name in messages else status(code))
        by_module[module][st] += 1
        if st not in ("killed", "equivalent", "message"):
            left.append((name, st))
    total = Counter()
    print("| module | mutants | messages | equivalent | killed | survived | no test | not run "
          "| score |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for module in sorted(by_module):
        c = by_module[module]
        total.update(c)
        print(_row(module, c))
    print(_row("**all**", total))
    if args.verbose:
        for name, st in left:
            print(f"{st}: {name}")
    # a mutant not run counts against the target
    counted = sum(total.values()) - total["equivalent"] - total["message"]
    return 0 if counted and total["killed"] / counted >= TARGET else 1


def _row(label, c):
    """Counted are the mutants that are neither message nor equivalent ones (one not run
    counts against the score); the score is the share of them killed."""
    n = sum(c.values())
    counted = n - c["equivalent"] - c["message"]
    score = c["killed"] / counted if counted else 1.0
    return (f"| {label} | {n} | {c['message']} | {c['equivalent']} | {c['killed']} | "
            f"{c['survived'] + c['suspicious']} | {c['no tests']} | {c['not checked']} | "
            f"{100 * score:.1f}% |")


def cmd_equivalents(args):
    """The equivalent mutants as a Markdown table, for tests/README.md."""
    print("| mutant | why no test can tell it apart |")
    print("|---|---|")
    for name in sorted(EQUIVALENT):
        module, func = name.split(".")[1:3]
        func = func[2:].replace("ǁ", ".") if func.startswith("xǁ") else func[2:]
        print(f"| `{module}.{func.replace('__mutmut_', ' #')}` | {EQUIVALENT[name]} |")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="mutmut run over the scope")
    run.add_argument("--jobs", type=int, default=2)
    run.add_argument("--only-left", action="store_true",
                     help="only the mutants not yet killed (after adding tests)")
    score = sub.add_parser("score", help="the score table from mutmut's results")
    score.add_argument("-v", "--verbose", action="store_true", help="list what is alive")
    sub.add_parser("equivalents", help="the equivalent mutants as a Markdown table")
    args = ap.parse_args(argv)
    return {"run": cmd_run, "score": cmd_score, "equivalents": cmd_equivalents}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
