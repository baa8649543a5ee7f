using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

using System.Text.Json;

namespace CalRec.Tensors.Serialization;

/// <summary>Element types of the safetensors format.</summary>
public enum SafeTensorsDType
{
    /// <summary>IEEE float32.</summary>
    F32,

    /// <summary>IEEE float16.</summary>
    F16,

    /// <summary>bfloat16 (the upper half of a float32).</summary>
    BF16,

    /// <summary>float64 (listed, not readable as a tensor here).</summary>
    F64,

    /// <summary>int64.</summary>
    I64,

    /// <summary>int32.</summary>
    I32,

    /// <summary>int16.</summary>
    I16,

    /// <summary>int8.</summary>
    I8,

    /// <summary>uint8.</summary>
    U8,

    /// <summary>boolean, one byte each.</summary>
    BOOL,
}

/// <summary>One tensor's entry in a safetensors header.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="DType">Element type.</param>
/// <param name="Shape">Dimensions.</param>
/// <param name="Begin">Start offset in the data buffer.</param>
/// <param name="End">End offset (exclusive) in the data buffer.</param>
public sealed record SafeTensorInfo(string Name, SafeTensorsDType DType, int[] Shape, long Begin, long End);

/// <summary>
/// Reads a safetensors file (https://github.com/huggingface/safetensors) through a memory map, so a large checkpoint is
/// never copied whole into a managed array. The header is validated in full when the file is opened: a malformed
/// file raises <see cref="InvalidDataException"/> naming the file and the problem.
/// </summary>
public sealed unsafe class SafeTensorsReader : IDisposable
{
    private const long MaxHeaderBytes = 100_000_000;
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafeTensorInfo> _tensors = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    public SafeTensorsReader(string path)
    {
        Path = path;
        long fileLength = new FileInfo(path).Length;
        if (fileLength < 8)
        {
            throw Bad($"file is {fileLength} bytes, shorter than the 8-byte header length");
        }

        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* ptr = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            _base = ptr + _view.PointerOffset;
            ulong headerLength = *(ulong*)_base;
            if (!BitConverter.IsLittleEndian)
            {
                headerLength = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(headerLength);
            }

            if (headerLength > MaxHeaderBytes)
            {
                throw Bad($"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");
            }

            if ((long)headerLength > fileLength - 8)
            {
                throw Bad($"header length {headerLength} runs past the end of the file ({fileLength} bytes)");
            }

            _dataStart = 8 + (long)headerLength;
            ParseHeader(new ReadOnlySpan<byte>(_base + 8, (int)headerLength), fileLength - _dataStart);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The file this reader opened.</summary>
    public string Path { get; }

    /// <summary>The string metadata (<c>__metadata__</c>), empty when absent.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; private set; } = new Dictionary<string, string>();

    /// <summary>Tensor names in header order.</summary>
    public IReadOnlyCollection<string> Names => _tensors.Keys;

    /// <summary>Every tensor's header entry.</summary>
    public IReadOnlyCollection<SafeTensorInfo> Tensors => _tensors.Values;

    /// <summary>Whether the file has a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The header entry of <paramref name="name"/>.</summary>
    public SafeTensorInfo GetInfo(string name) =>
        _tensors.TryGetValue(name, out SafeTensorInfo? info) ? info : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'.");

    /// <summary>Reads a tensor as float32, converting F16 and BF16.</summary>
    public ManagedTensor ReadTensor(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        SafeTensorInfo info = GetInfo(name);
        var t = ManagedTensor.zeros(info.Shape);
        byte* src = _base + _dataStart + info.Begin;
        Span<float> dst = t.Data;
        switch (info.DType)
        {
            case SafeTensorsDType.F32:
                new ReadOnlySpan<byte>(src, dst.Length * 4).CopyTo(MemoryMarshal.AsBytes(dst));
                break;
            case SafeTensorsDType.F16:
                var half = new ReadOnlySpan<Half>(src, dst.Length);
                for (int i = 0; i < dst.Length; i++)
                {
                    dst[i] = (float)half[i];
                }

                break;
            case SafeTensorsDType.BF16:
                var bf = new ReadOnlySpan<ushort>(src, dst.Length);
                for (int i = 0; i < dst.Length; i++)
                {
                    dst[i] = BitConverter.Int32BitsToSingle(bf[i] << 16);
                }

                break;
            default:
                t.Dispose();
                throw new NotSupportedException($"{Path}: tensor '{name}' has dtype {info.DType}; only F32, F16 and BF16 can be read as float tensors.");
        }

        return t;
    }

    /// <summary>Reads every float tensor into a name → tensor dictionary.</summary>
    public Dictionary<string, ManagedTensor> ReadAll()
    {
        var result = new Dictionary<string, ManagedTensor>(StringComparer.Ordinal);
        foreach (string name in _tensors.Keys)
        {
            result[name] = ReadTensor(name);
        }

        return result;
    }

    /// <summary>Releases the memory map.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }

        _map?.Dispose();
    }

    private void ParseHeader(ReadOnlySpan<byte> header, long dataLength)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException ex)
        {
            throw Bad($"header is not valid JSON ({ex.Message})");
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Bad("header is not a JSON object");
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                {
                    throw Bad($"duplicate entry '{prop.Name}'");
                }

                if (prop.Name == "__metadata__")
                {
                    Metadata = ParseMetadata(prop.Value);
                    continue;
                }

                _tensors[prop.Name] = ParseEntry(prop.Name, prop.Value);
            }
        }

        // Tensors must tile the data buffer exactly: sorted by offset, no gaps, no overlap, nothing left over.
        long cursor = 0;
        foreach (SafeTensorInfo info in _tensors.Values.OrderBy(static i => i.Begin).ThenBy(static i => i.End))
        {
            if (info.Begin != cursor)
            {
                throw Bad(info.Begin < cursor
                    ? $"tensor '{info.Name}' at [{info.Begin}, {info.End}) overlaps the previous tensor ending at {cursor}"
                    : $"gap in the data buffer before tensor '{info.Name}' (expected offset {cursor}, found {info.Begin})");
            }

            cursor = info.End;
        }

        if (cursor != dataLength)
        {
            throw Bad(cursor > dataLength
                ? $"tensors need {cursor} data bytes but the file holds {dataLength} (truncated?)"
                : $"{dataLength - cursor} bytes after the last tensor are not described by the header");
        }
    }

    private Dictionary<string, string> ParseMetadata(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw Bad("__metadata__ is not an object");
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty p in element.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
            {
                throw Bad($"__metadata__ value '{p.Name}' is not a string");
            }

            result[p.Name] = p.Value.GetString()!;
        }

        return result;
    }

    private SafeTensorInfo ParseEntry(string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object
            || !e.TryGetProperty("dtype", out JsonElement dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String
            || !e.TryGetProperty("shape", out JsonElement shapeEl) || shapeEl.ValueKind != JsonValueKind.Array
            || !e.TryGetProperty("data_offsets", out JsonElement offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
        {
            throw Bad($"tensor '{name}' needs a string dtype, a shape array and a two-element data_offsets array");
        }

        string dtypeText = dtypeEl.GetString()!;
        if (!Enum.TryParse(dtypeText, ignoreCase: false, out SafeTensorsDType dtype) || !Enum.IsDefined(dtype) || dtypeText != dtype.ToString())
        {
            throw Bad($"tensor '{name}' has unknown dtype '{dtypeText}'");
        }

        var shape = new int[shapeEl.GetArrayLength()];
        long count = 1;
        int i = 0;
        foreach (JsonElement d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int dim) || dim < 0)
            {
                throw Bad($"tensor '{name}' has an invalid dimension in its shape");
            }

            shape[i++] = dim;
            count *= dim;
            if (count > int.MaxValue)
            {
                throw Bad($"tensor '{name}' has too many elements");
            }
        }

        long[] off = new long[2];
        i = 0;
        foreach (JsonElement o in offEl.EnumerateArray())
        {
            if (o.ValueKind != JsonValueKind.Number || !o.TryGetInt64(out off[i]) || off[i] < 0)
            {
                throw Bad($"tensor '{name}' has an invalid data offset");
            }

            i++;
        }

        if (off[1] < off[0])
        {
            throw Bad($"tensor '{name}' has data_offsets [{off[0]}, {off[1]}] that end before they begin");
        }

        long expected = count * ElementSize(dtype);
        if (off[1] - off[0] != expected)
        {
            throw Bad($"tensor '{name}' of shape {ManagedTensor.FormatShape(shape)} and dtype {dtype} needs {expected} bytes but data_offsets span {off[1] - off[0]}");
        }

        return new SafeTensorInfo(name, dtype, shape, off[0], off[1]);
    }

    internal static int ElementSize(SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.F64 or SafeTensorsDType.I64 => 8,
        SafeTensorsDType.F32 or SafeTensorsDType.I32 => 4,
        SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.I16 => 2,
        _ => 1,
    };

    private InvalidDataException Bad(string problem) => new($"{Path}: malformed safetensors file: {problem}.");
}

/// <summary>Writes safetensors files atomically (a temporary file renamed over the target).</summary>
public static class SafeTensorsWriter
{
    /// <summary>
    /// Writes <paramref name="tensors"/> as F32 in name order with optional string <paramref name="metadata"/>.
    /// The header is padded with spaces to a multiple of 8 bytes.
    /// </summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, ManagedTensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var items = tensors.OrderBy(static kv => kv.Key, StringComparer.Ordinal).ToList();
        byte[] header = BuildHeader(items, metadata);
        string full = System.IO.Path.GetFullPath(path);
        string tmp = full + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> len = stackalloc byte[8];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
                fs.Write(len);
                fs.Write(header);
                foreach ((_, ManagedTensor t) in items)
                {
                    WriteLittleEndian(fs, t.Data);
                }

                fs.Flush(flushToDisk: true);
            }

            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }

    /// <summary>Builds the padded JSON header for <paramref name="items"/> in the given order.</summary>
    internal static byte[] BuildHeader(IReadOnlyList<KeyValuePair<string, ManagedTensor>> items, IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach ((string k, string v) in metadata.OrderBy(static kv => kv.Key, StringComparer.Ordinal))
                {
                    w.WriteString(k, v);
                }

                w.WriteEndObject();
            }

            long offset = 0;
            foreach ((string name, ManagedTensor t) in items)
            {
                if (name == "__metadata__")
                {
                    throw new ArgumentException("A tensor cannot be named __metadata__.");
                }

                w.WriteStartObject(name);
                w.WriteString("dtype", "F32");
                w.WriteStartArray("shape");
                foreach (int d in t.shape)
                {
                    w.WriteNumberValue(d);
                }

                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                offset += 4L * t.numel;
                w.WriteNumberValue(offset);
                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        int pad = (int)((8 - (ms.Length % 8)) % 8);
        for (int i = 0; i < pad; i++)
        {
            ms.WriteByte((byte)' ');
        }

        return ms.ToArray();
    }

    private static void WriteLittleEndian(Stream s, ReadOnlySpan<float> data)
    {
        if (BitConverter.IsLittleEndian)
        {
            s.Write(MemoryMarshal.AsBytes(data));
            return;
        }

        Span<byte> b = stackalloc byte[4];
        foreach (float f in data)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(b, f);
            s.Write(b);
        }
    }
}
