"""Stand-ins for tests and benches, kept out of the model code.

``cdnow`` (the CDNOW sample as shop tables), ``clv_simulate`` (exact BG/NBD +
Gamma-Gamma simulator), ``forecast_data`` (a ``demand_daily``-shaped frame from
raw tables), ``online_retail_shape`` (an export shaped like UCI Online Retail II)
and ``propensity_marts`` (pandas stand-in for the marts). Nothing
under ``shoplens/clv``, ``shoplens/forecast`` or ``shoplens/propensity`` imports
from here.
"""
