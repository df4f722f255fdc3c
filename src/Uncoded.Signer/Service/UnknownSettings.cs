using System.ComponentModel;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Uncoded.Signer.Service;

/// <summary>
/// Finds every setting the options types have no place for, at any depth, by its full path
/// (<c>Signer:Keys:main:SealedFile:Kdf</c>). The binder's ErrorOnUnknownConfiguration stops at
/// the first one and names only the class it belongs to; it stays on behind this as a backstop.
/// </summary>
internal static class UnknownSettings
{
    public static void Find(IConfigurationSection section, Type type, List<string> problems)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (IsValue(type))
        {
            foreach (var child in section.GetChildren())
            {
                problems.Add($"unknown setting '{child.Path}' ('{section.Path}' takes a single value)");
            }
            return;
        }
        if (ElementType(type) is { } element)
        {
            // A dictionary's keys and a list's indices are the caller's to choose; their values are typed.
            foreach (var child in section.GetChildren())
            {
                Find(child, element, problems);
            }
            return;
        }
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance);
        foreach (var child in section.GetChildren())
        {
            var property = properties.FirstOrDefault(p => string.Equals(p.Name, child.Key, StringComparison.OrdinalIgnoreCase));
            if (property is null)
            {
                problems.Add($"unknown setting '{child.Path}' (expected: {string.Join(", ", properties.Select(p => p.Name))})");
            }
            else
            {
                Find(child, property.PropertyType, problems);
            }
        }
    }

    /// <summary>
    /// <c>Logging</c> takes <c>LogLevel:&lt;category&gt;</c> = a level name and nothing else: a
    /// misspelt key would otherwise be ignored, and a bad level would fail later as an internal error.
    /// </summary>
    public static void FindInLogging(IConfigurationSection logging, List<string> problems)
    {
        if (logging.Value is not null)
        {
            problems.Add($"'{logging.Path}' must be an object: {{ \"LogLevel\": {{ \"Default\": \"Information\" }} }}");
        }
        foreach (var child in logging.GetChildren())
        {
            if (string.Equals(child.Key, "LogLevel", StringComparison.OrdinalIgnoreCase) && child.Value is not null)
            {
                problems.Add($"'{child.Path}' must be an object of category → level, e.g. {{ \"Default\": \"{child.Value}\" }}");
                continue;
            }
            if (!string.Equals(child.Key, "LogLevel", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"unknown setting '{child.Path}' (expected: LogLevel)");
                continue;
            }
            foreach (var category in child.GetChildren())
            {
                if (category.Value is null || !Enum.TryParse<LogLevel>(category.Value, ignoreCase: true, out _) || int.TryParse(category.Value, out _))
                {
                    problems.Add($"'{category.Path}' must be one of {string.Join(", ", Enum.GetNames<LogLevel>())}");
                }
            }
        }
    }

    /// <summary>What the binder converts from one string (numbers, strings, booleans, enums).</summary>
    private static bool IsValue(Type type) => TypeDescriptor.GetConverter(type).CanConvertFrom(typeof(string));

    /// <summary>The value type of a dictionary, the element type of a list or array; null for an options class.</summary>
    private static Type? ElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }
        var dictionary = type.GetInterfaces().Append(type)
            .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>));
        if (dictionary is not null)
        {
            return dictionary.GetGenericArguments()[1];
        }
        var enumerable = type.GetInterfaces()
            .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>));
        return enumerable?.GetGenericArguments()[0];
    }
}
