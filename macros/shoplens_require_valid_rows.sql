{#- shoplens_require_valid_rows(table, relation, required=true): a pre-hook of
    the staging model of a raw table, reading its base model `relation`. When
    the table has rows but no valid one (dates in another format, a decimal
    comma, epoch numbers for timestamps), stop the build with a message
    naming the table, its top rejection rules with counts (and the var that a
    rule depends on) and one value as exported that broke the top rule,
    instead of letting a later model fail on an empty input or, for an
    optional table, build as if the file were not there. A required table
    (orders) with no rows at all stops too; an optional one without rows is
    a table the shop does not export. A table whose rows mostly do not read
    in the contract's formats (rules <column>_invalid on more than the var
    max_unreadable_rate, 0.5, of its rows) stops too: its few valid rows
    most likely read by chance (whole numbers among decimal commas). The base model is
    built and kept: its rows are what the message points at. -#}
{% macro shoplens_require_valid_rows(table, relation, required=true) %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {#- events that the var event_type_map maps to ignore are left out on purpose: a file of
        only those is a table the shop does not export -#}
    {%- set counts = run_query(
        "select sum(case when dq_rule = 'event_type_ignored' then 0 else 1 end) as n_rows,"
        ~ ' sum(case when dq_rule is null then 1 else 0 end) as n_valid,'
        ~ " sum(case when right(dq_rule, 8) = '_invalid' then 1 else 0 end) as n_unreadable from "
        ~ relation) -%}
    {#- whole numbers on every engine (SQLMesh's sums come back as Decimal) -#}
    {%- set n_rows = (counts.columns[0].values()[0] or 0) | int -%}
    {%- set n_valid = (counts.columns[1].values()[0] or 0) | int -%}
    {%- set n_unreadable = (counts.columns[2].values()[0] or 0) | int -%}
    {%- set max_unreadable = var('max_unreadable_rate', 0.5) -%}
    {%- if max_unreadable is not number or max_unreadable < 0 or max_unreadable > 1 -%}
        {{ exceptions.raise_compiler_error(
            "shoplens: the var max_unreadable_rate must be a share from 0 to 1, got " ~ max_unreadable) }}
    {%- endif -%}
    {#- most rows unreadable in the contract's formats while a few read (whole numbers among
        decimal commas): the file's format differs, and the build would serve models of the few -#}
    {%- if n_valid > 0 and n_unreadable > max_unreadable * n_rows -%}
        {{ exceptions.raise_compiler_error(
            "shoplens: the raw table '" ~ table ~ "' could not read " ~ n_unreadable ~ " of its "
            ~ n_rows ~ " rows (" ~ (100.0 * n_unreadable / n_rows) | round(1) ~ "%, more than the var "
            ~ "max_unreadable_rate " ~ max_unreadable ~ "): "
            ~ shoplens_top_rules(relation, 'dq_rule', 3, "right(dq_rule, 8) = '_invalid'")
            ~ shoplens_rule_example(relation, where="right(dq_rule, 8) = '_invalid'")
            ~ ". The file's format most likely differs from the contract's (README, Bring your own data):"
            ~ " fix the file (the rows are in " ~ relation.identifier ~ " with dq_rule set), or raise the"
            ~ " var to build on the " ~ n_valid ~ " of " ~ n_rows ~ " that read") }}
    {%- endif -%}
    {%- if n_valid == 0 -%}
        {%- if n_rows == 0 and not required -%}{{ return('') }}{%- endif -%}
        {%- if n_rows == 0 -%}
            {{ exceptions.raise_compiler_error(
                "shoplens: the required raw table '" ~ table ~ "' has no rows "
                ~ "(the file holds a header only?); nothing can be built") }}
        {%- endif -%}
        {{ exceptions.raise_compiler_error(
            "shoplens: the " ~ ("required " if required else "") ~ "raw table '" ~ table
            ~ "' has no valid row: all "
            ~ n_rows ~ " rows were rejected, by "
            ~ shoplens_top_rules(relation, 'dq_rule', 3, "dq_rule <> 'event_type_ignored'")
            ~ shoplens_rule_example(relation, where="dq_rule <> 'event_type_ignored'")
            ~ " (the rows are in " ~ relation.identifier ~ " with dq_rule set"
            ~ ("" if required else "; the table is optional: fix the file, or leave it out of "
               ~ "the export folder to build without it") ~ ")") }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}


{#- shoplens_rule_example(relation, rule='dq_rule', column='dq_column',
    where='true'): "; e.g. <column> '<value as exported>'" for one row of the
    most frequent rule of a base model (or of the audit table: rule='rule',
    column='failed_column'), '' when its value is not at hand. A whole number
    where a timestamp belongs is named as what it most likely is (epoch
    seconds, milliseconds or microseconds), which the contract does not
    read; so are a spreadsheet's M/D/YYYY dates, and money or quantities
    with a decimal comma, a thousands separator, a currency sign or letters
    beside the number. -#}
{% macro shoplens_rule_example(relation, rule='dq_rule', column='dq_column', where='true') %}
    {%- set top = run_query('select ' ~ column ~ ', raw_values from ' ~ relation
        ~ ' where ' ~ where ~ ' and ' ~ rule ~ ' = (select ' ~ rule ~ ' from ' ~ relation
        ~ ' where ' ~ rule ~ ' is not null and ' ~ where
        ~ ' group by 1 order by count(*) desc, 1 limit 1)'
        ~ ' and raw_values is not null order by raw_values limit 1') -%}
    {%- if top.rows | length == 0 -%}{{ return('') }}{%- endif -%}
    {%- set name = top.rows[0][0] -%}
    {%- set ns = namespace(found=false, value=none) -%}
    {%- for key, value in (fromjson(top.rows[0][1]) or {}).items()
        if name is not none and key | lower == name | lower -%}
        {%- set ns.found = true -%}
        {%- set ns.value = value -%}
    {%- endfor -%}
    {%- if not ns.found -%}{{ return('') }}{%- endif -%}
    {%- set text = (ns.value | string | trim) if ns.value is not none else '' -%}
    {%- set hint = '' -%}
    {%- set is_stamp = name | lower in ('ordered_at', 'occurred_at', 'signed_up_at') -%}
    {%- if is_stamp and modules.re.fullmatch(
        '(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])([0-9]{6})?', text) -%}
        {%- set hint = ' (a date written without separators, which the contract does not read;'
            ~ ' write ISO-8601 text such as 2025-03-01T10:00:00Z, or a Parquet timestamp)' -%}
    {%- elif is_stamp and modules.re.fullmatch('[0-9]{9,19}([.][0-9]*)?', text) -%}
        {%- set digits = text.split('.')[0] | length -%}
        {%- set unit = 'seconds' if digits <= 11 else ('milliseconds' if digits <= 14
            else ('microseconds' if digits <= 17 else 'nanoseconds')) -%}
        {%- set hint = ' (a number: most likely Unix epoch ' ~ unit ~ ', which the contract does not'
            ~ ' read; write ISO-8601 text such as 2025-03-01T10:00:00Z, or a Parquet timestamp)' -%}
    {%- elif is_stamp and modules.re.fullmatch('[0-9]{1,6}([.][0-9]*)?', text) -%}
        {%- set hint = ' (a small number: most likely a day index or a spreadsheet serial date, which the'
            ~ ' contract does not read; map it to a calendar date from a start date of your choice and'
            ~ ' write ISO-8601 text such as 2025-03-01T10:00:00Z)' -%}
    {%- elif is_stamp and modules.re.fullmatch('[0-9]{1,2}[/.][0-9]{1,2}[/.][0-9]{2,4}([ T].*)?', text) -%}
        {%- set hint = ' (a date with day and month in an order the file does not say, M/D/YYYY or'
            ~ ' D/M/YYYY as a spreadsheet shows it; write ISO-8601 text such as 2025-03-01T10:00:00Z)' -%}
    {%- elif name | lower in ('order_total', 'unit_price', 'list_price', 'discount', 'quantity') -%}
        {%- if modules.re.fullmatch('0?[.][0-9]{6,}', text)
            or modules.re.fullmatch('[0-9.]+[eE]-[0-9]+', text) -%}
            {%- set hint = ' (a fraction of one unit with many decimals: most likely prices scaled or'
                ~ ' normalised by the export; multiply them back to the currency unit first, then round)' -%}
        {%- elif modules.re.fullmatch('-?[0-9]+,([0-9]{1,2}|[0-9]{4})', text) -%}
            {%- set hint = ' (a decimal comma; write a decimal point: 12.50)' -%}
        {%- elif modules.re.fullmatch('-?[0-9]{1,3},[0-9]{3}', text) -%}
            {%- set hint = ' (a thousands separator or a decimal comma; write the number with a decimal point'
                ~ ' and no separator: 1234.50)' -%}
        {%- elif modules.re.fullmatch('-?[0-9]{1,3}([,. ][0-9]{3})+([.,][0-9]+)?', text) -%}
            {%- set hint = ' (a thousands separator; write the number without it: 1234.50)' -%}
        {%- elif modules.re.search('[0-9]', text) and modules.re.search('[$€£¥]|[A-Z]{3}', text) -%}
            {%- set hint = ' (a currency sign or code; write the number only, and the currency in orders.currency)' -%}
        {%- elif modules.re.search('[A-Za-z]', text) and modules.re.search('[0-9]', text) -%}
            {%- set hint = ' (letters beside the number, such as a unit or a type prefix; write the number only: '
                ~ modules.re.search('-?[0-9]+([.][0-9]+)?', text).group(0) ~ ')' -%}
        {%- endif -%}
    {%- endif -%}
    {{ return('; e.g. ' ~ name ~ ' ' ~ (("'" ~ (ns.value | string | truncate(60, true)) ~ "'")
        if ns.value is not none else 'empty') ~ hint) }}
{% endmacro %}


{#- shoplens_top_rules(relation, column, n): "rule (count), ..." for the n
    most frequent rules of a relation, each with the var to change when a
    var decides it. -#}
{% macro shoplens_top_rules(relation, column, n, where='true') %}
    {%- set hints = {
        'ordered_at_in_future': 'var export_date', 'occurred_at_in_future': 'var export_date',
        'signed_up_at_in_future': 'var export_date',
        'ordered_at_too_early': 'var min_valid_date', 'occurred_at_too_early': 'var min_valid_date',
        'signed_up_at_too_early': 'var min_valid_date',
        'order_total_implausible': 'var max_order_total',
        'unit_price_implausible': 'var max_order_total',
        'line_amount_implausible': 'var max_order_total; unit_price is the price of one unit, not the'
            ~ ' line amount',
        'list_price_implausible': 'var max_order_total',
        'quantity_implausible': 'var max_quantity; quantities are units sold, not volumes or weights (fuel,'
            ~ ' kg): write 1',
        'status_unknown': 'var order_status_map',
        'event_type_unknown': 'var event_type_map; a name to leave out maps to ignore',
        'duplicate_row': 'an export with one row per unit sums them into quantity',
        'customer_id_not_found': 'events of visitors who are not customers keep customer_id empty,'
            ~ ' or list every visitor id in customers',
        'order_total_too_precise': 'totals are money in cents: round each order total to 2 decimals',
        'list_price_too_precise': 'prices are money in cents: round list_price to 2 decimals',
        'unit_price_too_precise': 'line prices keep 4 decimals: round unit_price (a price after a percentage'
            ~ ' discount)',
        'discount_too_precise': 'discount is money off the whole line, 4 decimals: round it',
        'discount_out_of_range': 'discount is money off the whole line, from 0 up to quantity x unit_price',
        'customer_id_null': "no customer: a guest's order counts in the shop's totals (fct_guest_orders),"
            ~ " in no customer model; an export that"
            ~ " fills an order's columns on its first line only (Shopify) fills them down first",
    } -%}
    {%- set top = run_query('select ' ~ column ~ ', count(*) as n from ' ~ relation
        ~ ' where ' ~ column ~ ' is not null and ' ~ where
        ~ ' group by 1 order by 2 desc, 1 limit ' ~ n) -%}
    {%- set parts = [] -%}
    {%- for row in top.rows -%}
        {%- set hint = '; ' ~ hints[row[0]] if row[0] in hints else '' -%}
        {%- do parts.append(row[0] ~ ' (' ~ row[1] ~ hint ~ ')') -%}
    {%- endfor -%}
    {{ return(parts | join(', ')) }}
{% endmacro %}
