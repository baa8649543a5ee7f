namespace CalRec.Tensors.NN;

/// <summary>What <see cref="NeuralModule.load_state_dict"/> matched and what it did not.</summary>
/// <param name="MissingKeys">Parameters of the module with no entry in the state dict.</param>
/// <param name="UnexpectedKeys">Entries of the state dict that name no parameter.</param>
public sealed record LoadStateDictResult(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys);

/// <summary>
/// Base class of trainable components. Parameters and sub-modules are registered by name and enumerated with
/// dotted Hugging Face style names (<c>model.layers.0.self_attn.q_proj.weight</c>).
/// </summary>
public abstract class NeuralModule
{
    private readonly List<(string Name, ManagedTensor Tensor)> _parameters = [];
    private readonly List<(string Name, NeuralModule NeuralModule)> _modules = [];

    /// <summary>Whether the module is in training mode (dropout active).</summary>
    public bool training { get; private set; } = true;

    /// <summary>Registers a trainable tensor under <paramref name="name"/> and marks it <c>requires_grad</c>.</summary>
    protected ManagedTensor RegisterParameter(string name, ManagedTensor tensor)
    {
        ValidateName(name);
        tensor.requires_grad = true;
        tensor.MoveToOuterScope();
        _parameters.Add((name, tensor));
        return tensor;
    }

    /// <summary>Registers a child module under <paramref name="name"/>.</summary>
    protected T RegisterModule<T>(string name, T module)
        where T : NeuralModule
    {
        ValidateName(name);
        _modules.Add((name, module));
        return module;
    }

    /// <summary>Removes a registered child module.</summary>
    protected void UnregisterModule(string name)
    {
        int removed = _modules.RemoveAll(m => m.Name == name);
        if (removed == 0)
        {
            throw new KeyNotFoundException($"No module named '{name}' in {GetType().Name}.");
        }
    }

    /// <summary>The direct child modules with their names.</summary>
    public IEnumerable<(string Name, NeuralModule NeuralModule)> Children() => _modules;

    /// <summary>Replaces the tensor of a registered parameter (for weight tying and loading).</summary>
    protected void ReplaceParameter(string name, ManagedTensor tensor)
    {
        for (int i = 0; i < _parameters.Count; i++)
        {
            if (_parameters[i].Name == name)
            {
                tensor.requires_grad = true;
                _parameters[i] = (name, tensor);
                return;
            }
        }

        throw new KeyNotFoundException($"No parameter named '{name}' in {GetType().Name}.");
    }

    /// <summary>Every parameter with its dotted name, depth first in registration order. Shared tensors appear once.</summary>
    public IEnumerable<(string Name, ManagedTensor Parameter)> named_parameters()
    {
        var seen = new HashSet<ManagedTensor>(ReferenceEqualityComparer.Instance);
        foreach ((string name, ManagedTensor p) in NamedParametersWithDuplicates(string.Empty))
        {
            if (seen.Add(p))
            {
                yield return (name, p);
            }
        }
    }

    /// <summary>Every distinct parameter.</summary>
    public IEnumerable<ManagedTensor> parameters() => named_parameters().Select(static x => x.Parameter);

    /// <summary>Child modules with their dotted names (this module excluded).</summary>
    public IEnumerable<(string Name, NeuralModule NeuralModule)> named_modules()
    {
        foreach ((string name, NeuralModule m) in _modules)
        {
            yield return (name, m);
            foreach ((string sub, NeuralModule sm) in m.named_modules())
            {
                yield return ($"{name}.{sub}", sm);
            }
        }
    }

    /// <summary>Number of distinct scalar parameters.</summary>
    public long parameter_count() => parameters().Sum(static p => (long)p.numel);

    /// <summary>Name → tensor for every parameter (the tensors themselves, not copies).</summary>
    public Dictionary<string, ManagedTensor> state_dict()
    {
        var dict = new Dictionary<string, ManagedTensor>(StringComparer.Ordinal);
        foreach ((string name, ManagedTensor p) in named_parameters())
        {
            dict[name] = p;
        }

        return dict;
    }

    /// <summary>
    /// Copies values from <paramref name="stateDict"/> into the matching parameters. A shape mismatch is always an
    /// error naming the tensor; with <paramref name="strict"/>, so are missing and unexpected names.
    /// </summary>
    public LoadStateDictResult load_state_dict(IReadOnlyDictionary<string, ManagedTensor> stateDict, bool strict = true)
    {
        var missing = new List<string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string name, ManagedTensor p) in NamedParametersWithDuplicates(string.Empty))
        {
            if (!stateDict.TryGetValue(name, out ManagedTensor? src))
            {
                missing.Add(name);
                continue;
            }

            if (!src.shape.SequenceEqual(p.shape))
            {
                throw new InvalidDataException($"load_state_dict: '{name}' has shape {ManagedTensor.FormatShape(src.shape)} in the state dict but {ManagedTensor.FormatShape(p.shape)} in the model.");
            }

            used.Add(name);
            src.Data.CopyTo(p.Data);
        }

        var unexpected = stateDict.Keys.Where(k => !used.Contains(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (strict && (missing.Count > 0 || unexpected.Count > 0))
        {
            throw new InvalidDataException(
                $"load_state_dict (strict): missing keys [{string.Join(", ", missing)}]; unexpected keys [{string.Join(", ", unexpected)}].");
        }

        return new LoadStateDictResult(missing, unexpected);
    }

    /// <summary>Sets training mode on this module and all children.</summary>
    public NeuralModule train(bool on = true)
    {
        training = on;
        foreach ((_, NeuralModule m) in _modules)
        {
            m.train(on);
        }

        return this;
    }

    /// <summary>Sets evaluation mode (dropout off).</summary>
    public NeuralModule eval() => train(false);

    /// <summary>
    /// Switches to evaluation mode until the returned scope is disposed, then restores the mode it had
    /// (<c>using (model.EvalScope()) { ... }</c>, as <c>torch.no_grad</c> scopes gradients).
    /// </summary>
    public ModeScope EvalScope()
    {
        var scope = new ModeScope(this, training);
        eval();
        return scope;
    }

    /// <summary>Restores a module's training mode when disposed (see <see cref="EvalScope"/>).</summary>
    public readonly struct ModeScope : IDisposable
    {
        private readonly NeuralModule _module;
        private readonly bool _training;

        internal ModeScope(NeuralModule module, bool training) => (_module, _training) = (module, training);

        /// <summary>Puts the module back in the mode it had when the scope began.</summary>
        public void Dispose() => _module?.train(_training);
    }

    /// <summary>Zeroes every parameter's gradient.</summary>
    public void zero_grad()
    {
        foreach (ManagedTensor p in parameters())
        {
            p.zero_grad();
        }
    }

    private IEnumerable<(string Name, ManagedTensor Parameter)> NamedParametersWithDuplicates(string prefix)
    {
        foreach ((string name, ManagedTensor t) in _parameters)
        {
            yield return (prefix + name, t);
        }

        foreach ((string name, NeuralModule m) in _modules)
        {
            foreach ((string n, ManagedTensor t) in m.NamedParametersWithDuplicates($"{prefix}{name}."))
            {
                yield return (n, t);
            }
        }
    }

    private static void ValidateName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
        {
            throw new ArgumentException($"Invalid module or parameter name '{name}': must be non-empty and contain no '.'.", nameof(name));
        }
    }
}
