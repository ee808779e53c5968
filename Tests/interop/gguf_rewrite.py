"""Rewrites a GGUF file through gguf-py's own GGUFWriter, so a test can hand Quail a file written by the peer."""
import gguf
import numpy as np


def field_value(field):
    """A GGUFReader field's value as GGUFWriter.add_key_value takes it (arrays as lists)."""
    if field.types[0] == gguf.GGUFValueType.ARRAY:
        return [field.contents(i) for i in range(len(field.data))]
    return field.contents()


def rewrite_with_gguf_py(reader, path, drop_prefixes=(), tensor_data=None, extra_tensors=()):
    """Writes every key and tensor of `reader` to `path` with gguf-py, except the keys starting with one of
    `drop_prefixes` (and the ones GGUFWriter writes itself). `tensor_data(tensor)` may replace a tensor's values;
    by default they are copied as stored. `extra_tensors`, (name, array) pairs, come first, where llama.cpp's
    converter puts the tensors it generates (`rope_freqs.weight`)."""
    writer = gguf.GGUFWriter(path, reader.fields["general.architecture"].contents())
    for name, array in extra_tensors:
        writer.add_tensor(name, array)
    for field in reader.fields.values():
        if field.name.startswith(("GGUF.", *drop_prefixes)) or field.name == "general.architecture":
            continue
        value_type = field.types[0]
        sub = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field_value(field), value_type, sub_type=sub)
    for tensor in reader.tensors:
        data = tensor_data(tensor) if tensor_data else np.array(tensor.data)
        writer.add_tensor(tensor.name, data, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
