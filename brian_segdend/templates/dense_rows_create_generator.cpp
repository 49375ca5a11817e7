{# All-to-all creation of dense-row Synapses (brian_segdend.codegen.synapses): the index arrays take
   their final size once, instead of doubling as they grow (which leaves up to twice the memory they
   need, and three times while they move). #}
{# USES_VARIABLES { _synaptic_pre, _synaptic_post, rand, N_incoming, N_outgoing, N,
                    N_pre, N_post, _source_offset, _target_offset } #}
{# WRITES_TO_READ_ONLY_VARIABLES { _synaptic_pre, _synaptic_post, N_incoming, N_outgoing, N } #}
{% extends 'synapses_create_generator.cpp' %}

{% block maincode %}
    {% for _array in (_dynamic__synaptic_pre, _dynamic__synaptic_post) %}
    {{_array}}.reserve({{_array}}.size() + (size_t){{owner.source.N}}*{{owner.target.N}});
    {% endfor %}
    {{ super() }}
{% endblock %}
