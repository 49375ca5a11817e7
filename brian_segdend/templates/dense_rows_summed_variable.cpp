{# Dense row summed variable (brian_segdend.codegen): for Synapses connected all-to-all in presynaptic
   order (synapse i*n_post + j joins i and j), the sum over synapses runs row by row, with the row
   position in place of the index arrays, so the compiler vectorises the inner loop. Sums into the
   postsynaptic group add each row to the targets; sums into the presynaptic group reduce each row to
   one number. Same per-synapse code as Brian's generic template (summed_variable.cpp).
   A sum is computed again only when something it reads may have changed since the last one: the
   arrays of other groups it reads (compared byte for byte: the rates of the presynaptic layer, the
   index of the example), or the synapses' own variables (the weights: any run of a pathway or
   per-synapse operation of these synapses counts as a change, see ``writes_counter`` in codegen.py),
   or a new run began; otherwise the last sums are copied to the target. The values are those of
   the sum itself, bit for bit. Input rates are constant within an example, so the sums over the
   input layer in rate mode run about twice per example instead of every step. Sums that draw random
   numbers, and OpenMP runs, always compute. #}
{# USES_VARIABLES { N, _synaptic_pre, _synaptic_post } #}
{% extends 'common_group.cpp' %}
{% from 'dense_rows_common.cpp' import row_loop, writes_counter_definition %}

{% block extra_headers %}
{% if summed_inputs(variables, owner, _target_var, vector_code) is not none %}
#include <cstring>
{{ writes_counter_definition(owner) }}
int _segdend_new_run_{{codeobj_name}} = 1;  // set by this code object's before-run code
{% endif %}
{% endblock %}

{% block before_code %}
{% if summed_inputs(variables, owner, _target_var, vector_code) is not none %}
extern int _segdend_new_run_{{codeobj_name}};
_segdend_new_run_{{codeobj_name}} = 1;
{% endif %}
{% endblock %}

{% block maincode %}
    {% set _target_var_array = get_array_name(_target_var) %}
    {% set _n_pre = owner.source.N %}
    {% set _n_post = owner.target.N %}
    {% set _into_post = _index_var is sameas owner.variables['_synaptic_post'] %}
    const int _target_size = {{constant_or_scalar(_target_size_name, variables[_target_size_name])}};
    {% set _inputs = summed_inputs(variables, owner, _target_var, vector_code) %}
    {% if _inputs is not none %}
    {% set _counter = writes_counter(owner) %}
    {% set _n_bytes = _inputs|sum(attribute=1) %}
    static char _last_inputs[{{_n_bytes}} + 1];
    static std::vector<{{c_data_type(_target_var.dtype)}}> _last_sums;
    static unsigned long _last_writes = 0;
    bool _unchanged = !_segdend_new_run_{{codeobj_name}} && _last_writes == {{_counter}}()
                      && _last_sums.size() == (size_t)_target_size;
    {% set _offset = namespace(value=0) %}
    {% for _array, _bytes in _inputs %}
    _unchanged = _unchanged && std::memcmp(_last_inputs + {{_offset.value}}, {{_array}}, {{_bytes}}) == 0;
    {% set _offset.value = _offset.value + _bytes %}
    {% endfor %}
    if (_unchanged)
    {
        for (int _target_idx=0; _target_idx<_target_size; _target_idx++)
            {{_target_var_array}}[_target_idx + {{_target_start}}] = _last_sums[_target_idx];
    }
    else
    {
    {% endif %}
    for (int _target_idx=0; _target_idx<_target_size; _target_idx++)
    {
        {{_target_var_array}}[_target_idx + {{_target_start}}] = 0;
    }

    // scalar code
    const size_t _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    for(int32_t _pre = 0; _pre < {{_n_pre}}; _pre++)
    {
        {% if not _into_post %}
        double _row_sum = 0;
        {% endif %}
        {% call row_loop(vector_code, owner, _n_post) %}
        {% if _into_post %}
        {{_target_var_array}}[_post] += _synaptic_var;
        {% else %}
        _row_sum += _synaptic_var;
        {% endif %}
        {% endcall %}
        {% if not _into_post %}
        {{_target_var_array}}[_pre] += _row_sum;
        {% endif %}
    }
    {% if _inputs is not none %}
    {% set _offset = namespace(value=0) %}
    {% for _array, _bytes in _inputs %}
    std::memcpy(_last_inputs + {{_offset.value}}, {{_array}}, {{_bytes}});
    {% set _offset.value = _offset.value + _bytes %}
    {% endfor %}
    _last_sums.assign({{_target_var_array}} + {{_target_start}}, {{_target_var_array}} + {{_target_start}} + _target_size);
    _last_writes = {{_counter}}();
    _segdend_new_run_{{codeobj_name}} = 0;
    }
    {% endif %}
{% endblock %}
