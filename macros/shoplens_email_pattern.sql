{#- shoplens_email_pattern(): the regular expression of an e-mail address (no anchors), one
    rule for the data test customer_ids_are_not_email_addresses and for the warned rows
    that never print an address (shoplens_show_warned_rows). -#}
{% macro shoplens_email_pattern() %}
    {{- return('[^@ ]+@[^@ ]+[.][A-Za-z]{2,}') -}}
{% endmacro %}
