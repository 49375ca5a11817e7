{# Dense row summed variable (brian_segdend.codegen): for Synapses connected all-to-all in presynaptic
   order (synapse i*n_post + j joins i and j), the sum over synapses runs row by row, with the row
   position in place of the index arrays, so the compiler vectorises the inner loop. Sums into the
   postsynaptic group add each row to the targets; sums into the presynaptic group reduce each row to
   one number. Same per-synapse code as Brian's generic template (summed_variable.cpp). #}
{# USES_VARIABLES { N, _synaptic_pre, _synaptic_post } #}
{% extends 'common_group.cpp' %}
{% from 'dense_rows_common.cpp' import row_loop %}

{% block maincode %}
    {% set _target_var_array = get_array_name(_target_var) %}
    {% set _n_pre = owner.source.N %}
    {% set _n_post = owner.target.N %}
    {% set _into_post = _index_var is sameas owner.variables['_synaptic_post'] %}
    const int _target_size = {{constant_or_scalar(_target_size_name, variables[_target_size_name])}};
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
{% endblock %}
