using System.Buffers.Binary;
using System.Text;
using CalRec.Tensors.Serialization;

namespace CalRec.Tensors.Tests;

[TestFixture]
public class SafeTensorsTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "calrec-st-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void RoundTripKeepsNamesShapesValuesAndMetadata()
    {
        string path = Path.Combine(_dir, "m.safetensors");
        using var a = ManagedTensor.from([1f, -2.5f, 3f, 4f, 5f, 6f], 2, 3);
        using var b = ManagedTensor.from([7f], 1);
        using var s = ManagedTensor.scalar(0.25f);
        SafeTensorsWriter.Save(path, new Dictionary<string, ManagedTensor> { ["model.b"] = b, ["model.a.weight"] = a, ["s"] = s },
            new Dictionary<string, string> { ["format"] = "pt" });

        using var reader = new SafeTensorsReader(path);
        Assert.That(reader.Metadata["format"], Is.EqualTo("pt"));
        Assert.That(reader.Names, Is.EquivalentTo(new[] { "model.a.weight", "model.b", "s" }));
        using ManagedTensor ra = reader.ReadTensor("model.a.weight");
        Assert.That(ra.shape.ToArray(), Is.EqualTo(new[] { 2, 3 }));
        Assert.That(ra.ToArray(), Is.EqualTo(a.ToArray()));
        Assert.That(reader.ReadTensor("s").shape.Length, Is.EqualTo(0));
        Assert.That(Directory.GetFiles(_dir), Has.Length.EqualTo(1), "no temporary file is left behind");
    }

    [Test]
    public void WrittenBytesFollowTheSpec()
    {
        string path = Path.Combine(_dir, "x.safetensors");
        using var t = ManagedTensor.from([1f, 2f], 2);
        SafeTensorsWriter.Save(path, new Dictionary<string, ManagedTensor> { ["w"] = t });
        byte[] bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string json = """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""";
        int padded = (json.Length + 7) / 8 * 8;
        Assert.That(n, Is.EqualTo((ulong)padded));
        Assert.That(Encoding.UTF8.GetString(bytes, 8, (int)n), Is.EqualTo(json.PadRight(padded, ' ')));
        Assert.That(bytes.Length, Is.EqualTo(8 + padded + 8));
        Assert.That(BitConverter.ToSingle(bytes, 8 + padded), Is.EqualTo(1f));
        Assert.That(BitConverter.ToSingle(bytes, 8 + padded + 4), Is.EqualTo(2f));
    }

    [Test]
    public void ReadsHandBuiltF16AndBF16()
    {
        byte[] data = new byte[8];
        BinaryPrimitives.WriteHalfLittleEndian(data.AsSpan(0), (Half)1.5f);
        BinaryPrimitives.WriteHalfLittleEndian(data.AsSpan(2), (Half)(-2f));
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(4), (ushort)(BitConverter.SingleToInt32Bits(3.25f) >> 16));
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(6), (ushort)(BitConverter.SingleToInt32Bits(-0.5f) >> 16));
        string path = Write("""{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[4,8]}}""", data);
        using var r = new SafeTensorsReader(path);
        Assert.That(r.ReadTensor("h").ToArray(), Is.EqualTo(new[] { 1.5f, -2f }));
        Assert.That(r.ReadTensor("b").ToArray(), Is.EqualTo(new[] { 3.25f, -0.5f }));
    }

    [TestCase("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 4, "truncated")]
    [TestCase("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "overlaps")]
    [TestCase("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "gap")]
    [TestCase("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "needs 12 bytes")]
    [TestCase("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}""", 8, "end before")]
    [TestCase("""{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}""", 4, "unknown dtype 'Q4'")]
    [TestCase("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 12, "not described")]
    [TestCase("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4, "invalid dimension")]
    [TestCase("""{"__metadata__":{"k":1}}""", 0, "not a string")]
    [TestCase("""[1,2]""", 0, "not a JSON object")]
    [TestCase("""{"a":""", 0, "not valid JSON")]
    public void MalformedFilesAreClearErrors(string header, int dataBytes, string expected)
    {
        string path = Write(header, new byte[dataBytes]);
        var ex = Assert.Throws<InvalidDataException>(() => new SafeTensorsReader(path).Dispose());
        Assert.That(ex!.Message, Does.Contain(expected).And.Contain(path));
    }

    [Test]
    public void HeaderLengthPastEndOfFile()
    {
        string path = Path.Combine(_dir, "bad.safetensors");
        byte[] bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<InvalidDataException>(() => new SafeTensorsReader(path).Dispose());
        Assert.That(ex!.Message, Does.Contain("runs past the end"));

        File.WriteAllBytes(path, new byte[3]);
        Assert.That(Assert.Throws<InvalidDataException>(() => new SafeTensorsReader(path).Dispose())!.Message, Does.Contain("shorter than"));
    }

    [Test]
    public void UnsupportedDtypeIsReportedOnRead()
    {
        string path = Write("""{"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}""", new byte[8]);
        using var r = new SafeTensorsReader(path);
        Assert.That(Assert.Throws<NotSupportedException>(() => r.ReadTensor("i"))!.Message, Does.Contain("I64"));
    }

    [Test]
    public void FailedWriteLeavesExistingFileIntact()
    {
        string path = Path.Combine(_dir, "keep.safetensors");
        using var t = ManagedTensor.from([1f], 1);
        SafeTensorsWriter.Save(path, new Dictionary<string, ManagedTensor> { ["w"] = t });
        byte[] before = File.ReadAllBytes(path);
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Save(path, new Dictionary<string, ManagedTensor> { ["__metadata__"] = t }));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
    }

    private string Write(string header, byte[] data)
    {
        byte[] h = Encoding.UTF8.GetBytes(header);
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".safetensors");
        using var fs = File.Create(path);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)h.Length);
        fs.Write(len);
        fs.Write(h);
        fs.Write(data);
        return path;
    }
}
