{# Dense row propagation reads the source's event space directly: presynaptic pathways neither prepare
   a spike queue (a list of synapses per source neuron, 4 bytes per synapse or more) nor push into it
   (see dense_rows_synapses.cpp beside this file). #}
{# USES_VARIABLES { _n_sources, _n_targets, delay, _source_dt } #}
{% extends 'synapses_push_spikes.cpp' %}

{% block before_code %}
    {% if owner.prepost != 'pre' %}
    {{ super() }}
    {% endif %}
{% endblock %}

{% block maincode %}
    {% if owner.prepost != 'pre' %}
    {{ super() }}
    {% endif %}
{% endblock %}
