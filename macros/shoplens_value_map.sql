{#- shoplens_value_map(expr, var_name, allowed): `expr` (lower-case text)
    with the exported values that the var `var_name` maps replaced by their
    project value, e.g. order_status_map {delivered: completed}. Keys match
    in any case and with surrounding spaces; a value outside `allowed` stops
    the build naming the var, the key and the allowed values. Unmapped values
    pass through (and meet the staging rule: status_unknown,
    event_type_unknown). An empty map renders `expr` unchanged. -#}
{% macro shoplens_value_map(expr, var_name, allowed) %}
    {%- set pairs = shoplens_value_map_pairs(var_name, allowed) -%}
    {%- if pairs | length == 0 -%}
        {{ expr }}
    {%- else -%}
        case {{ expr }}
        {%- for key, target in pairs %}
            when '{{ key | replace("'", "''") }}' then '{{ target }}'
        {%- endfor %}
            else {{ expr }}
        end
    {%- endif -%}
{% endmacro %}


{#- shoplens_value_map_pairs(var_name, allowed): the (exported value, project
    value) pairs of the var `var_name`, keys trimmed and lower-case, sorted;
    a value outside `allowed`, a map that is not a mapping, or one key mapped
    to two values stops the build naming the var. -#}
{% macro shoplens_value_map_pairs(var_name, allowed) %}
    {%- set value_map = var(var_name, {}) -%}
    {%- if value_map is none or value_map == '' -%}{%- set value_map = {} -%}{%- endif -%}
    {%- if value_map is not mapping -%}
        {{ exceptions.raise_compiler_error(
            "shoplens: the var " ~ var_name ~ " must map exported values to one of "
            ~ allowed | join(', ') ~ " (e.g. {delivered: " ~ allowed[0] ~ "}), got: "
            ~ value_map) }}
    {%- endif -%}
    {%- set pairs = [] -%}
    {%- for key, value in value_map.items() -%}
        {%- set target = (value | string | trim | lower) if value is not none else '' -%}
        {%- if target not in allowed -%}
            {{ exceptions.raise_compiler_error(
                "shoplens: the var " ~ var_name ~ " maps '" ~ key ~ "' to '" ~ value
                ~ "'; a value must be one of " ~ allowed | join(', ')) }}
        {%- endif -%}
        {%- set exported = key | string | trim | lower -%}
        {%- for seen, seen_target in pairs if seen == exported and seen_target != target -%}
            {{ exceptions.raise_compiler_error(
                "shoplens: the var " ~ var_name ~ " maps '" ~ exported ~ "' (in any case) to both '"
                ~ seen_target ~ "' and '" ~ target ~ "'") }}
        {%- endfor -%}
        {%- do pairs.append((exported, target)) -%}
    {%- endfor -%}
    {{ return(pairs | unique | sort) }}
{% endmacro %}


{#- shoplens_value_map_keys(var_name, allowed, target): the exported values
    (trimmed, lower-case) that the var `var_name` maps to `target`, e.g. the
    event names event_type_map maps to ignore. A raw value equal to `target`
    itself is not among them: only a var decides. -#}
{% macro shoplens_value_map_keys(var_name, allowed, target) %}
    {%- set keys = [] -%}
    {%- for key, mapped in shoplens_value_map_pairs(var_name, allowed) if mapped == target -%}
        {%- do keys.append(key) -%}
    {%- endfor -%}
    {{ return(keys) }}
{% endmacro %}
