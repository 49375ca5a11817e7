{# Dense row propagation (brian_segdend.codegen): for Synapses connected all-to-all in presynaptic
   order (synapse i*n_post + j joins i and j), an event of presynaptic neuron i runs the pathway code
   over the contiguous row i, read straight from the source's event space; the index arrays of the
   generic template are replaced by the row position, so the compiler vectorises the loop. Other
   pathways of the same Synapses (postsynaptic ones) use Brian's generic code. Each run that has
   events counts as a write of the synaptic variables (codegen.writes_counter). #}
{% extends 'synapses.cpp' %}
{% from 'dense_rows_common.cpp' import row_loop, writes_counter_definition %}

{% block extra_headers %}
{{ super() }}
{{ writes_counter_definition(owner) }}
{% endblock %}

{% block maincode %}
    {# USES_VARIABLES { _synaptic_pre } #}
    {% if pathway.prepost == 'pre' %}
    {% set _events = get_array_name(pathway.source.variables[pathway.eventspace_name], access_data=False) %}
    {% set _n_pre = pathway.source.N %}
    {% set _n_post = pathway.target.N %}
    // scalar code
    const size_t _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    const int32_t _num_events = {{_events}}[{{_n_pre}}];
    if (_num_events > 0)
        ++{{writes_counter(owner)}}();
    for(int32_t _event = 0; _event < _num_events; _event++)
    {
        const int32_t _pre = {{_events}}[_event];
        {% call row_loop(vector_code, owner, _n_post) %}{% endcall %}
    }
    {% else %}
    ++{{writes_counter(owner)}}();
    {{ super() }}
    {% endif %}
{% endblock %}
