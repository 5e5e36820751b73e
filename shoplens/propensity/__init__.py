"""Purchase propensity: a GRU over weekly customer histories, with baselines.

For every customer known at a cut-off date, predict the probability of at
least one purchase in the next ``window_days`` days (default 30) and the
expected number of purchases in that window, from the customer's weekly
sequence of behaviour (purchase days, revenue and, when the shop has web
events, sessions, product views, add-to-carts and checkouts) plus a few static
features (tenure, recency, totals, country, first-order category).

Definitions used everywhere in this module:

* A *purchase* is a calendar day of the shop (var ``shop_timezone``) with at least one completed order
  (``is_purchase``), as in the BTYD summary: two orders on one day count once.
* A cut-off ``c`` (a date) sees data up to and including ``c``; its label
  window is ``c + 1 .. c + window_days``.
* Week ``W-1`` of a sequence is the 7 days ending on the cut-off, week ``W-2``
  the 7 days before, and so on. Weeks that end before the customer's birth
  (first purchase or sign-up, whichever is earlier) are masked.

The GRU is trained on labels from earlier cut-offs (rolled back in steps from
the training end), never on data after the training end. Three baselines are
scored on the same customers: BG/NBD's probability of a purchase in the window
(fitted by shoplens.clv on the history up to the scoring cut-off, served as its
no-drop-out limit NBD when the estimate sits at that boundary), an RFM
heuristic (the repeat rate each RFM cell showed at the training cut-offs), a
logistic regression on the same features, summarised over 1/4/13/52 weeks, and
the naive rate (each customer's past repeat-purchase rate carried forward). A
baseline that cannot be fitted is dropped with its reason (``baseline_notes``);
it never takes the step down.

Public functions take and return pandas DataFrames; TensorFlow is imported
only when a network is built, trained or loaded.

The served model is chosen on a validation cut-off before the training end
(``selection``): the GRU is trained in full only when a cheap first pass
beats the best baseline beyond chance (a paired DeLong test on the validation
customers); otherwise the best baseline is served.

Layout: ``config``, ``history`` (inputs), ``features`` (snapshots),
``encoding``, ``baselines``, ``network`` (the GRU), ``train``, ``selection``,
``served``, ``models`` (scores and reasons), ``importance``, ``score``,
``evaluation`` and ``pipeline`` (the only entry point from dbt).
"""

from shoplens.propensity.baselines import (  # noqa: F401
    bgnbd_window_probability,
    fit_bgnbd,
    rfm_cells,
)
from shoplens.propensity.config import (  # noqa: F401
    EVENT_CHANNELS,
    MODEL_NAMES,
    ORDER_CHANNELS,
    SERVABLE_MODELS,
    InsufficientHistoryError,
    PropensityConfig,
)
from shoplens.propensity.encoding import (  # noqa: F401
    Encoder,
)
from shoplens.propensity.evaluation import (  # noqa: F401
    best_f1_threshold,
    evaluate_scores,
    evaluation_plan,
    purchase_outcomes,
)
from shoplens.propensity.features import (  # noqa: F401
    Snapshot,
    snapshot,
    window_counts,
)
from shoplens.propensity.history import (  # noqa: F401
    History,
    prepare_history,
)
from shoplens.propensity.network import (  # noqa: F401
    TrainedPropensity,
    load_propensity,
)
from shoplens.propensity.score import (  # noqa: F401
    SCORE_COLUMNS,
    deciles,
    decline_reason,
    propensity_status,
    run_propensity,
    score_snapshot,
)
from shoplens.propensity.selection import (  # noqa: F401
    Selection,
    select_model,
)
from shoplens.propensity.served import (  # noqa: F401
    ServedPropensity,
    fit_served,
    load_served,
)
from shoplens.propensity.train import (  # noqa: F401
    Baselines,
    fit_gru,
    prepare_training,
    train_propensity,
)
