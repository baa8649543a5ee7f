using System.Text.Json.Nodes;
using CalRec.Tensors;
using CalRec.Tensors.Memory;
using CalRec.Tensors.Serialization;

namespace CalRec.Recommenders.Persistence;

/// <summary>Reading and writing the plain files of a model component (JSON settings, safetensors arrays) with errors that name the model zip.</summary>
internal static class ComponentFiles
{
    /// <summary>Writes <c>config.json</c> into <paramref name="folder"/>.</summary>
    public static void WriteConfig(string folder, JsonObject config) => File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());

    /// <summary>Reads <c>config.json</c> of <paramref name="folder"/>.</summary>
    public static JsonObject ReadConfig(string folder, string modelPath)
    {
        string file = Path.Combine(folder, "config.json");
        return File.Exists(file) && JsonNode.Parse(File.ReadAllText(file)) is JsonObject o
            ? o
            : throw new ModelFormatException(modelPath, $"missing or invalid {Path.GetFileName(folder)}/config.json");
    }

    /// <summary>An integer setting of a component's config.</summary>
    public static int Int(JsonObject config, string key, string modelPath) =>
        config[key]?.GetValue<int>() ?? throw new ModelFormatException(modelPath, $"config has no '{key}'");

    /// <summary>Writes one float array as the tensor <paramref name="name"/> of shape <paramref name="shape"/>.</summary>
    public static void WriteArray(string file, string name, float[] values, params int[] shape)
    {
        using (TensorScope.Begin())
        {
            SafeTensorsWriter.Save(file, [new(name, ManagedTensor.from(values, shape))]);
        }
    }

    /// <summary>Reads the tensor <paramref name="name"/> of a safetensors file as a flat array.</summary>
    public static float[] ReadArray(string file, string name, string modelPath)
    {
        using SafeTensorsReader reader = Open(file, modelPath);
        using (TensorScope.Begin())
        {
            return reader.Contains(name) ? reader.ReadTensor(name).ToArray() : throw new ModelFormatException(modelPath, $"{Path.GetFileName(file)} has no tensor '{name}'");
        }
    }

    /// <summary>Opens a safetensors file of the component.</summary>
    public static SafeTensorsReader Open(string file, string modelPath)
    {
        try
        {
            return new SafeTensorsReader(file);
        }
        catch (Exception ex) when (ex is FileNotFoundException or InvalidDataException)
        {
            throw new ModelFormatException(modelPath, $"{Path.GetFileName(file)}: {ex.Message}", ex);
        }
    }
}
