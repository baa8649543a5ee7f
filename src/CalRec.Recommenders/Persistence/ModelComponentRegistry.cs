using System.Reflection;

namespace CalRec.Recommenders.Persistence;

/// <summary>Every <see cref="IModelComponentSerializer"/> of this assembly, found once by reflection.</summary>
internal static class ModelComponentRegistry
{
    private static readonly IReadOnlyList<IModelComponentSerializer> s_serializers = typeof(ModelComponentRegistry).Assembly.GetTypes()
        .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IModelComponentSerializer).IsAssignableFrom(t))
        .OrderBy(t => t.FullName, StringComparer.Ordinal)
        .Select(t => (IModelComponentSerializer)Activator.CreateInstance(t, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, null, null, null)!)
        .ToList();

    /// <summary>The serializer that writes <paramref name="model"/>.</summary>
    public static IModelComponentSerializer ForModel(RecommenderModel model) =>
        s_serializers.FirstOrDefault(s => s.CanSave(model))
        ?? throw new NotSupportedException($"Model kind '{model.Kind}' ({model.Scorer.GetType().Name}) has no serializer and cannot be saved.");

    /// <summary>The serializer that reads model kind <paramref name="kind"/>, or null.</summary>
    public static IModelComponentSerializer? ForKind(string kind) => s_serializers.FirstOrDefault(s => s.Kinds.Contains(kind, StringComparer.Ordinal));

    /// <summary>The newest version of component <paramref name="component"/> this build reads (0: unknown).</summary>
    public static int SupportedVersion(string component) => s_serializers.FirstOrDefault(s => s.Component == component)?.Version ?? 0;
}
