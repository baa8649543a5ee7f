using System.Globalization;
using System.Reflection;
using System.Text;

namespace CalRec.Recommenders;

/// <summary>One setting declared with <see cref="TrainerOptionAttribute"/>: where it lives in an Options object and how it is written and read as text.</summary>
public sealed class DeclaredOption
{
    private readonly PropertyInfo[] _path;

    internal DeclaredOption(string flag, string help, PropertyInfo[] path, string? groupSwitch, object? defaultValue)
    {
        Flag = flag;
        Help = help;
        _path = path;
        GroupSwitch = groupSwitch;
        DefaultValue = defaultValue;
    }

    /// <summary>The flag with its dashes (<c>--stage1-epochs</c>).</summary>
    public string Flag { get; }

    /// <summary>The help text.</summary>
    public string Help { get; }

    /// <summary>The value type (nullable types unwrapped).</summary>
    public Type ValueType => Nullable.GetUnderlyingType(_path[^1].PropertyType) ?? _path[^1].PropertyType;

    /// <summary>The value in a fresh Options object (for a nullable group: in a fresh group).</summary>
    public object? DefaultValue { get; }

    /// <summary>For a member of a nullable group: the flag that creates the group (null otherwise, and for the switch itself).</summary>
    public string? GroupSwitch { get; }

    /// <summary>Whether this option creates its nullable group.</summary>
    public bool IsGroupSwitch { get; internal set; }

    /// <summary>The accepted spellings of an enum value, or empty.</summary>
    public IReadOnlyList<string> Choices => ValueType.IsEnum ? DeclaredOptions.EnumNames(ValueType).Select(n => n.Name).ToList() : [];

    /// <summary>The value in <paramref name="options"/>, or null when its group is absent.</summary>
    public object? Get(object options)
    {
        object? target = options;
        foreach (PropertyInfo p in _path)
        {
            if (target is null)
            {
                return null;
            }

            target = p.GetValue(target);
        }

        return target;
    }

    /// <summary>
    /// Parses <paramref name="text"/> and stores it in <paramref name="options"/>. A bad value, or a member of a nullable
    /// group that is not switched on, is an <see cref="ArgumentException"/> naming the flag.
    /// </summary>
    public void Set(object options, string text)
    {
        object value = Parse(text);
        object target = options;
        for (int i = 0; i < _path.Length - 1; i++)
        {
            object? next = _path[i].GetValue(target);
            if (next is null)
            {
                if (!IsGroupSwitch)
                {
                    throw new ArgumentException($"{Flag} needs {GroupSwitch}.");
                }

                next = Activator.CreateInstance(_path[i].PropertyType)!;
                _path[i].SetValue(target, next);
            }

            target = next;
        }

        _path[^1].SetValue(target, value);
    }

    /// <summary>Parses a value: invariant numbers, true/false, enum names in kebab case, their <see cref="OptionValueAttribute"/> spellings or a unique prefix.</summary>
    public object Parse(string text)
    {
        Type t = ValueType;
        string Bad(string what) => $"{Flag}: '{text}' is not {what}.";
        if (t == typeof(string))
        {
            return text;
        }

        if (t.IsEnum)
        {
            var names = DeclaredOptions.EnumNames(t);
            var exact = names.Where(n => string.Equals(n.Name, text, StringComparison.OrdinalIgnoreCase)).ToList();
            var match = exact.Count > 0 ? exact : names.Where(n => n.Name.StartsWith(text, StringComparison.OrdinalIgnoreCase) && text.Length > 0).DistinctBy(n => n.Value).ToList();
            return match.Count == 1 ? match[0].Value : throw new ArgumentException(Bad($"one of {string.Join(", ", Choices)}"));
        }

        try
        {
            // Each branch boxed on its own: a shared conditional type would turn every number into a double.
            return t == typeof(bool) ? (object)bool.Parse(text)
                : t == typeof(int) ? (object)int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture)
                : t == typeof(ulong) ? (object)ulong.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture)
                : t == typeof(float) ? (object)float.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture)
                : t == typeof(double) ? (object)double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture)
                : throw new NotSupportedException($"{Flag}: options of type {t.Name} cannot be given as text.");
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            string what = t == typeof(bool) ? "true or false" : t == typeof(int) || t == typeof(ulong) ? "a whole number" : "a number";
            throw new ArgumentException(Bad(what), ex);
        }
    }

    /// <summary>A value as the command line would spell it (null: "none").</summary>
    public string Format(object? value) => value switch
    {
        null => "none",
        bool b => b ? "true" : "false",
        Enum e => DeclaredOptions.EnumNames(e.GetType()).First(n => n.Value.Equals(e)).Name,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };
}

/// <summary>The settings an Options type declares with <see cref="TrainerOptionAttribute"/>, in declaration order.</summary>
public static class DeclaredOptions
{
    /// <summary>Every declared setting of <paramref name="optionsType"/>, including those of its groups.</summary>
    public static IReadOnlyList<DeclaredOption> Of(Type optionsType)
    {
        var result = new List<DeclaredOption>();
        Collect(optionsType, Activator.CreateInstance(optionsType), string.Empty, [], null, result);
        return result;
    }

    /// <summary>
    /// The settings of <paramref name="options"/> as flag (without dashes) and text: the provenance saved with a fitted
    /// model, spelled as a user would type it.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Describe(object options)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DeclaredOption o in Of(options.GetType()))
        {
            object? value = o.Get(options);
            if (o.GroupSwitch is null || value is not null)
            {
                // Members of an absent nullable group are left out; its switch reads "none".
                result[o.Flag[2..]] = o.Format(value);
            }
        }

        return result;
    }

    internal static IReadOnlyList<(string Name, object Value)> EnumNames(Type enumType) =>
        enumType.GetFields(BindingFlags.Public | BindingFlags.Static)
            .SelectMany(f => f.GetCustomAttributes<OptionValueAttribute>().Select(a => a.Name).Prepend(Kebab(f.Name)).Select(n => (n, f.GetValue(null)!)))
            .ToList();

    private static void Collect(Type type, object? defaults, string prefix, PropertyInfo[] path, string? groupSwitch, List<DeclaredOption> result)
    {
        foreach (PropertyInfo p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetCustomAttribute<TrainerOptionGroupAttribute>() is { } group)
            {
                bool nullable = p.GetValue(defaults) is null;
                object? groupDefaults = p.GetValue(defaults) ?? Activator.CreateInstance(p.PropertyType);
                string? groupFlag = nullable ? "--" + Join(prefix, group.Prefix) : null;
                Collect(p.PropertyType, groupDefaults, Join(prefix, group.Prefix), [.. path, p], groupFlag, result);
            }
            else if (p.GetCustomAttribute<TrainerOptionAttribute>() is { } option)
            {
                string flag = "--" + Join(prefix, option.Name);
                bool isSwitch = groupSwitch is not null && option.Name.Length == 0;
                result.Add(new DeclaredOption(flag, option.Help, [.. path, p], isSwitch ? null : groupSwitch, p.GetValue(defaults)) { IsGroupSwitch = isSwitch });
            }
        }
    }

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : name.Length == 0 ? prefix : $"{prefix}-{name}";

    private static string Kebab(string name)
    {
        var sb = new StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                sb.Append('-');
            }

            sb.Append(char.ToLowerInvariant(name[i]));
        }

        return sb.ToString();
    }
}
