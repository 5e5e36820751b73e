"""Product recommendations and customer profiles.

* Recommendations: implicit ALS on customer x product purchase counts, with
  popularity and item-to-item (the SQL mart ``product_affinity``) as
  baselines; ALS is served only when it beats popularity on a validation
  cut-off before ``as_of_date``.
* Profiles: a truncated SVD of each customer's category / price band /
  discount mix, k-means on the embedding, clusters named from their traits.

``shoplens.recommend.pipeline`` is the only entry point for dbt.
"""

from shoplens.recommend.config import (
    ProfileConfig,
    RecommendConfig,
    RecommendError,
    configs_from_dbt,
)

__all__ = ["ProfileConfig", "RecommendConfig", "RecommendError", "configs_from_dbt"]
