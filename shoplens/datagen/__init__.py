"""Synthetic online shop: the raw export contract, with known ground truth.

The generator draws a shop whose structure the models are meant to find, and
records that structure in ``ground_truth.json`` so that tests can check the
models against the truth:

* **Purchase timing** follows the BG/NBD process (Fader, Hardie & Lee 2005):
  customer *i* buys at Poisson rate ``lambda_i ~ Gamma(r, alpha)`` (per day)
  while alive, and after every repeat purchase drops out with probability
  ``p_i ~ Beta(a, b)``. Customers are born (first purchase) uniformly over the
  period. Each purchase is then moved to a day of the *same calendar week*
  drawn from a weekly profile, so that demand has a weekly pattern; this moves
  a purchase by at most six days and changes the BG/NBD summary very little
  (a week cut by the period's start or end uses its days inside the period).
* **Spend** follows Gamma-Gamma: order value ``z ~ Gamma(p, nu_i)`` with
  ``nu_i ~ Gamma(q, v)`` (rate parametrisation, mean ``p * v / (q - 1)``).
* **Products** sit in categories with a trend, a weekly profile, a yearly
  season and promotion windows (price cut, demand lift). Each order's lines
  are drawn from that day's product weights; the order value is spread over
  its lines in proportion to their list prices, so that the lines add up to
  the order total exactly.
* **Tastes** (``tastes=True``, the default): customers belong to taste groups,
  each with home categories and a preferred price band; a customer buys their
  favourite products again and otherwise picks from the day's weights times
  the group's taste (see :class:`Tastes`). Tastes draw from a random stream of
  their own and only change which products go on the lines: timing, totals,
  the number of lines and their quantities, events and dirt are those of the
  shop without tastes. ``ground_truth.json`` records the groups and each
  buying customer's group (``tastes.customer_group``).
* **Browsing**: every purchase has a checkout session, and a few browsing
  sessions in the weeks before it (a consideration phase: activity rises
  before a purchase);
  alive customers also browse at a background rate, which fades after a
  customer drops out. Some sessions are anonymous.
* **Dirty data** (``dirty_rate``): extra rows only, drawn from a separate
  random stream, so the clean rows of a dirty shop are exactly the rows of the
  clean shop with the same seed. Kinds: exact duplicates, null ids, zero or
  negative totals, unknown statuses, unparseable and future timestamps,
  orphan order lines, events of unknown customers, and cancelled and
  returned orders; valid timestamps are also written with mixed UTC offsets.

Everything is vectorised with NumPy and written with PyArrow, in chunks of
customers for large shops; a given seed (and chunk size) always gives the
same files.

Layout: ``config`` (constants, :class:`ShopConfig`), ``helpers``, ``catalogue``,
``tastes``, ``customers`` (purchases, lines, sessions, events), ``dirty``, ``shop``
(:func:`iter_shop`, :func:`generate_shop`) and ``cli`` (writers, ``main``).
"""

from shoplens.datagen.catalogue import (  # noqa: F401
    Catalogue,
)
from shoplens.datagen.cli import (  # noqa: F401
    main,
    write_shop,
    write_shop_streaming,
)
from shoplens.datagen.config import (  # noqa: F401
    CATEGORIES,
    CATEGORY_SEASON_PEAK,
    COUNTRIES,
    COUNTRY_WEIGHTS,
    HEAVY_PURCHASES,
    HEAVY_SHARE,
    HOUR_PROFILE,
    OFFSETS_MINUTES,
    SHAPES,
    TABLES,
    WEEKLY_PROFILE,
    ShopConfig,
)
from shoplens.datagen.customers import (  # noqa: F401
    EVENT_TYPES,
)
from shoplens.datagen.shop import (  # noqa: F401
    generate_shop,
    iter_shop,
    latent_purchases,
)
from shoplens.datagen.tastes import (  # noqa: F401
    PRICE_BANDS,
    Tastes,
)
