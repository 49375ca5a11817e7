{# Dense row propagation reads the source's event space directly: presynaptic pathways push
   nothing into the spike queue (see dense_rows_synapses.cpp beside this file). #}
{# USES_VARIABLES { _n_sources, _n_targets, delay, _source_dt } #}
{% extends 'synapses_push_spikes.cpp' %}

{% block maincode %}
    {% if owner.prepost != 'pre' %}
    {{ super() }}
    {% endif %}
{% endblock %}
