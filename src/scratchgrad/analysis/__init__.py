"""Model analysis: summary tables (shapes, parameters, MACs, receptive fields), figures, labs.

    import scratchgrad as sg
    print(sg.summary(model, (3, 224, 224)))                 # the table; .to_dict() for plain data
    from scratchgrad.analysis import figures
    figures.plot_filters(model, "runs/filters.png")          # first-layer filters as an image grid
    figures.plot_layer_times(figures.layer_times(model, x, y), "runs/layer_time.png")

On the command line: `scratchgrad summary resnet50 --input 3,224,224`.
"""
from .receptive_field import INPUT, RF, conv_step, receptive_field, transposed_step
from .summary import LayerInfo, Summary, conv_macs, conv_output_size, conv_params, layer_macs, summary

__all__ = ["summary", "Summary", "LayerInfo", "RF", "INPUT", "conv_step", "transposed_step", "receptive_field",
           "conv_output_size", "conv_params", "conv_macs", "layer_macs"]
