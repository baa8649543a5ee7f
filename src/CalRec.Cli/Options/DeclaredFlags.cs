using System.CommandLine;
using CalRec.Recommenders;

namespace CalRec.Cli.Options;

/// <summary>
/// The command-line flags of an Options type, generated from its declared settings (<see cref="TrainerOptionAttribute"/>):
/// flag names, help, choices and defaults come from the Options type, so no setting is declared twice. Only flags
/// given on the command line change a value; group switches (<c>--meta</c>) apply before their members.
/// </summary>
/// <typeparam name="T">The Options type.</typeparam>
internal sealed class DeclaredFlags<T>
    where T : class
{
    private readonly Func<T> _defaults;
    private readonly List<(DeclaredOption Setting, Option<string> Flag)> _flags;

    /// <summary>Flags for every declared setting of <typeparamref name="T"/>; <paramref name="defaults"/> makes the starting values (and the defaults shown in help).</summary>
    public DeclaredFlags(Func<T> defaults)
    {
        _defaults = defaults;
        T shown = defaults();
        _flags = DeclaredOptions.Of(typeof(T))
            .OrderBy(s => s.IsGroupSwitch ? 0 : 1)
            .Select(s => (s, new Option<string>(s.Flag) { Description = Describe(s, shown), HelpName = HelpName(s) }))
            .ToList();
    }

    /// <summary>Adds every flag to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach ((_, Option<string> flag) in _flags.OrderBy(f => f.Flag.Name, StringComparer.Ordinal))
        {
            command.Options.Add(flag);
        }
    }

    /// <summary>Whether any of these flags was given.</summary>
    public bool AnyGiven(ParseResult p) => _flags.Any(f => p.GetResult(f.Flag) is { Implicit: false });

    /// <summary>
    /// <paramref name="start"/> (settings from a config file) or the defaults, with every given flag applied; a bad value
    /// is an <see cref="ArgumentException"/> naming the flag.
    /// </summary>
    public T Read(ParseResult p, T? start = null)
    {
        T options = start ?? _defaults();
        foreach ((DeclaredOption setting, Option<string> flag) in _flags)
        {
            if (p.GetResult(flag) is { Implicit: false })
            {
                setting.Set(options, p.GetValue(flag)!);
            }
        }

        return options;
    }

    private static string Describe(DeclaredOption s, T shown)
    {
        string values = s.Choices.Count > 0 ? $"{string.Join(" | ", s.Choices.Distinct())}; " : string.Empty;
        string shownValue = s.GroupSwitch is null || s.Get(shown) is not null ? s.Format(s.Get(shown)) : s.Format(s.DefaultValue);
        string needs = s.GroupSwitch is null ? string.Empty : $"; needs {s.GroupSwitch}";
        return $"{s.Help} ({values}default: {shownValue}{needs})";
    }

    private static string HelpName(DeclaredOption s) =>
        s.ValueType.IsEnum ? "value" : s.ValueType == typeof(bool) ? "true|false" : s.ValueType == typeof(string) ? "text" : s.ValueType == typeof(int) || s.ValueType == typeof(ulong) ? "n" : "x";
}
