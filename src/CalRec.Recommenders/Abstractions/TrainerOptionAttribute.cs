namespace CalRec.Recommenders;

/// <summary>
/// Declares a trainer setting once, on its Options property: the command line's <c>--flag</c> and help, the
/// <c>--config</c> JSON (the property itself) and the training provenance saved with a model all derive from it
/// (see <see cref="DeclaredOptions"/>).
/// </summary>
/// <param name="name">The flag without dashes (<c>batch-size</c>); inside a <see cref="TrainerOptionGroupAttribute"/> it follows the group's prefix, and an empty name is the group's own switch.</param>
/// <param name="help">One sentence for <c>--help</c>.</param>
[AttributeUsage(AttributeTargets.Property)]
public sealed class TrainerOptionAttribute(string name, string help) : Attribute
{
    /// <summary>The flag without dashes.</summary>
    public string Name { get; } = name;

    /// <summary>The help text.</summary>
    public string Help { get; } = help;
}

/// <summary>
/// Marks a property that holds nested options (a stage's settings, meta-learning's settings): their flags are
/// <c>--prefix-name</c>. A nullable group is created by its switch (the member whose name is empty).
/// </summary>
/// <param name="prefix">The flag prefix without dashes (<c>stage1</c>).</param>
[AttributeUsage(AttributeTargets.Property)]
public sealed class TrainerOptionGroupAttribute(string prefix) : Attribute
{
    /// <summary>The flag prefix.</summary>
    public string Prefix { get; } = prefix;
}

/// <summary>Another spelling of an enum value on the command line (<c>ce</c> for <c>CrossEntropy</c>).</summary>
/// <param name="name">The extra spelling.</param>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = true)]
public sealed class OptionValueAttribute(string name) : Attribute
{
    /// <summary>The extra spelling.</summary>
    public string Name { get; } = name;
}
