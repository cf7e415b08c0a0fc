"""LambdaMART peer for bench/quality.mjs: XGBoost rank:ndcg on one LETOR fold.

Reads train/vali/test in SVMlight format (qid: groups), trains with early
stopping on vali NDCG@10 (model selection on vali only), writes the test scores
(one per line, row order) to --out, and prints one JSON line with timings.
Usage: python3 xgb_lambdamart.py --train T --vali V --test S --out SCORES [--threads N]
"""
import argparse
import json
import time

import numpy as np
import xgboost as xgb
from sklearn.datasets import load_svmlight_file


def load(path, n_features=None):
    """Rows sorted by qid (stable), as XGBoost requires, plus the order to undo it.

    LETOR folds concatenate S-parts, so qids are contiguous per query but not
    sorted across the file."""
    x, y, qid = load_svmlight_file(path, query_id=True, n_features=n_features)
    order = np.argsort(qid, kind="stable")
    return x[order], y[order], qid[order], order


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--vali", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=500)
    a = ap.parse_args()
    xt, yt, qt, _ = load(a.train)
    nf = xt.shape[1]
    xv, yv, qv, _ = load(a.vali, nf)
    xs, ys, qs, test_order = load(a.test, nf)
    dt = xgb.DMatrix(xt, label=yt, qid=qt)
    dv = xgb.DMatrix(xv, label=yv, qid=qv)
    ds = xgb.DMatrix(xs, label=ys, qid=qs)
    params = {
        "objective": "rank:ndcg",
        "eval_metric": "ndcg@10",
        "eta": 0.05,
        "max_depth": 6,
        "min_child_weight": 1,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "nthread": a.threads,
        "seed": 42,
    }
    t0 = time.time()
    booster = xgb.train(params, dt, num_boost_round=a.rounds, evals=[(dv, "vali")], early_stopping_rounds=50, verbose_eval=False)
    train_s = time.time() - t0
    sorted_scores = booster.predict(ds, iteration_range=(0, booster.best_iteration + 1))
    scores = np.empty_like(sorted_scores)
    scores[test_order] = sorted_scores  # back to the test file's row order
    np.savetxt(a.out, scores, fmt="%.9g")
    print(json.dumps({"peer": "xgboost rank:ndcg", "version": xgb.__version__, "best_iteration": int(booster.best_iteration), "train_s": train_s}))


if __name__ == "__main__":
    main()
