using System.Buffers.Binary;
using System.Text;

namespace CalRec.Models.Checkpoints;

/// <summary>One node of an ONNX graph: its operator and the names of its inputs and outputs.</summary>
/// <param name="OpType">The operator (<c>MatMul</c>, <c>Add</c>, ...).</param>
/// <param name="Inputs">Input value names.</param>
/// <param name="Outputs">Output value names.</param>
public sealed record OnnxNode(string OpType, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs);

/// <summary>A float32 initializer (a constant weight) of an ONNX graph.</summary>
/// <param name="Dims">Its shape.</param>
/// <param name="Data">Its values, row-major.</param>
public sealed record OnnxTensor(int[] Dims, float[] Data);

/// <summary>
/// The parts of an ONNX model (<c>ModelProto</c>) that weight loading needs: the main graph's float32 initializers and its
/// nodes, read straight from the protobuf wire format (no generated code, no ONNX Runtime session). Initializers of
/// other element types are skipped; weights stored outside the file (<c>external_data</c>) are refused.
/// </summary>
public sealed class OnnxGraph
{
    // Field numbers of onnx.proto3.
    private const int ModelGraph = 7;
    private const int GraphNode = 1;
    private const int GraphInitializer = 5;
    private const int NodeInput = 1;
    private const int NodeOutput = 2;
    private const int NodeOpType = 4;
    private const int TensorDims = 1;
    private const int TensorDataType = 2;
    private const int TensorFloatData = 4;
    private const int TensorName = 8;
    private const int TensorRawData = 9;
    private const int TensorExternalData = 13;
    private const int TensorDataLocation = 14;
    private const int FloatType = 1;

    private OnnxGraph(Dictionary<string, OnnxTensor> initializers, List<OnnxNode> nodes) => (Initializers, Nodes) = (initializers, nodes);

    /// <summary>The float32 initializers by name.</summary>
    public IReadOnlyDictionary<string, OnnxTensor> Initializers { get; }

    /// <summary>The nodes in graph order.</summary>
    public IReadOnlyList<OnnxNode> Nodes { get; }

    /// <summary>Reads <paramref name="model"/>; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="InvalidDataException">The bytes are not an ONNX model this reader understands.</exception>
    public static OnnxGraph Read(ReadOnlySpan<byte> model, string source = "model.onnx")
    {
        try
        {
            ReadOnlySpan<byte> graph = default;
            bool found = false;
            var reader = new Reader(model);
            while (reader.Next(out int field, out int wire))
            {
                if (field == ModelGraph && wire == Reader.LengthDelimited)
                {
                    graph = reader.Bytes();
                    found = true;
                }
                else
                {
                    reader.Skip(wire);
                }
            }

            if (!found)
            {
                throw new InvalidDataException($"{source}: no graph (ModelProto field 7) in {model.Length:N0} bytes; is it an ONNX model?");
            }

            var initializers = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
            var nodes = new List<OnnxNode>();
            var g = new Reader(graph);
            while (g.Next(out int field, out int wire))
            {
                if (field == GraphNode && wire == Reader.LengthDelimited)
                {
                    nodes.Add(ReadNode(g.Bytes()));
                }
                else if (field == GraphInitializer && wire == Reader.LengthDelimited)
                {
                    if (ReadTensor(g.Bytes(), source) is (string name, OnnxTensor tensor))
                    {
                        initializers[name] = tensor;
                    }
                }
                else
                {
                    g.Skip(wire);
                }
            }

            return new OnnxGraph(initializers, nodes);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException($"{source}: truncated or malformed protobuf ({e.Message}).", e);
        }
    }

    private static OnnxNode ReadNode(ReadOnlySpan<byte> bytes)
    {
        var inputs = new List<string>();
        var outputs = new List<string>();
        string op = string.Empty;
        var r = new Reader(bytes);
        while (r.Next(out int field, out int wire))
        {
            switch (field)
            {
                case NodeInput when wire == Reader.LengthDelimited: inputs.Add(Encoding.UTF8.GetString(r.Bytes())); break;
                case NodeOutput when wire == Reader.LengthDelimited: outputs.Add(Encoding.UTF8.GetString(r.Bytes())); break;
                case NodeOpType when wire == Reader.LengthDelimited: op = Encoding.UTF8.GetString(r.Bytes()); break;
                default: r.Skip(wire); break;
            }
        }

        return new OnnxNode(op, inputs, outputs);
    }

    private static (string Name, OnnxTensor Tensor)? ReadTensor(ReadOnlySpan<byte> bytes, string source)
    {
        var dims = new List<long>();
        int type = 0;
        string name = string.Empty;
        ReadOnlySpan<byte> raw = default;
        var floats = new List<float>();
        bool external = false;
        var r = new Reader(bytes);
        while (r.Next(out int field, out int wire))
        {
            switch (field)
            {
                case TensorDims when wire == Reader.LengthDelimited:
                    var packed = new Reader(r.Bytes());
                    while (!packed.AtEnd)
                    {
                        dims.Add((long)packed.Varint());
                    }

                    break;
                case TensorDims when wire == Reader.VarintWire: dims.Add((long)r.Varint()); break;
                case TensorDataType when wire == Reader.VarintWire: type = (int)r.Varint(); break;
                case TensorName when wire == Reader.LengthDelimited: name = Encoding.UTF8.GetString(r.Bytes()); break;
                case TensorRawData when wire == Reader.LengthDelimited: raw = r.Bytes(); break;
                case TensorFloatData when wire == Reader.LengthDelimited:
                    ReadOnlySpan<byte> values = r.Bytes();
                    for (int i = 0; i + 4 <= values.Length; i += 4)
                    {
                        floats.Add(BinaryPrimitives.ReadSingleLittleEndian(values[i..]));
                    }

                    break;
                case TensorFloatData when wire == Reader.Fixed32: floats.Add(BitConverter.Int32BitsToSingle((int)r.Fixed32Value())); break;
                case TensorExternalData: external = true; r.Skip(wire); break;
                case TensorDataLocation when wire == Reader.VarintWire: external |= r.Varint() == 1; break;
                default: r.Skip(wire); break;
            }
        }

        if (type != FloatType)
        {
            return null;
        }

        if (external)
        {
            throw new InvalidDataException($"{source}: initializer '{name}' is stored outside the file (external data), which is not supported.");
        }

        int[] shape = dims.Select(d => checked((int)d)).ToArray();
        long count = shape.Aggregate(1L, (a, d) => a * d);
        float[] data;
        if (!raw.IsEmpty)
        {
            if (raw.Length != count * 4)
            {
                throw new InvalidDataException($"{source}: initializer '{name}' of shape [{string.Join(", ", shape)}] holds {raw.Length:N0} bytes, not {count * 4:N0}.");
            }

            data = new float[count];
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(i * 4)..]);
            }
        }
        else
        {
            if (floats.Count != count)
            {
                throw new InvalidDataException($"{source}: initializer '{name}' of shape [{string.Join(", ", shape)}] holds {floats.Count:N0} values, not {count:N0}.");
            }

            data = [.. floats];
        }

        return (name, new OnnxTensor(shape, data));
    }

    /// <summary>A protobuf wire-format reader over a span.</summary>
    private ref struct Reader(ReadOnlySpan<byte> bytes)
    {
        public const int VarintWire = 0;
        public const int Fixed64 = 1;
        public const int LengthDelimited = 2;
        public const int Fixed32 = 5;

        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _at;

        public readonly bool AtEnd => _at >= _bytes.Length;

        public bool Next(out int field, out int wire)
        {
            if (AtEnd)
            {
                (field, wire) = (0, 0);
                return false;
            }

            ulong key = Varint();
            (field, wire) = ((int)(key >> 3), (int)(key & 7));
            return true;
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                byte b = _bytes[_at++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw new ArgumentOutOfRangeException(nameof(_bytes), "a varint longer than 10 bytes");
        }

        public uint Fixed32Value()
        {
            uint v = BinaryPrimitives.ReadUInt32LittleEndian(_bytes.Slice(_at, 4));
            _at += 4;
            return v;
        }

        public ReadOnlySpan<byte> Bytes()
        {
            int length = checked((int)Varint());
            ReadOnlySpan<byte> slice = _bytes.Slice(_at, length);
            _at += length;
            return slice;
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case VarintWire: Varint(); break;
                case Fixed64: _at += 8; break;
                case LengthDelimited: Bytes(); break;
                case Fixed32: _at += 4; break;
                default: throw new ArgumentOutOfRangeException(nameof(wire), $"wire type {wire}");
            }

            if (_at > _bytes.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(wire), "a field runs past the end");
            }
        }
    }
}
