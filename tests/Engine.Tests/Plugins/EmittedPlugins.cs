using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.Loader;
using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Engine.Tests.Plugins;

/// <summary>Broken plugin assemblies, written with <see cref="PersistedAssemblyBuilder"/> so no extra projects are needed.</summary>
internal static class EmittedPlugins
{
    private static readonly ConstructorInfo RuleConstructor = typeof(Rule).GetConstructor(BindingFlags.NonPublic | BindingFlags.Instance, Type.EmptyTypes)!;

    /// <summary>Writes <c>&lt;folder&gt;/&lt;name&gt;.dll</c> with a <c>[Rule("no-constructor")]</c> type whose only constructor takes an int.</summary>
    public static void RuleWithoutUsableConstructor(string folder, string name)
    {
        var (assembly, module) = Define(name);
        var type = DefineRule(module, $"{name}.NoConstructorRule", typeof(Rule), "no-constructor");
        var constructor = type.DefineConstructor(MethodAttributes.Public, CallingConventions.Standard, [typeof(int)]);
        CallBase(constructor.GetILGenerator(), RuleConstructor);
        type.CreateType();
        Save(assembly, folder, name);
    }

    /// <summary>
    /// Writes <c>&lt;folder&gt;/&lt;name&gt;.dll</c> with a <c>[Rule("needs-dependency")]</c> type whose base class is in
    /// <c>&lt;name&gt;.Base.dll</c>, which is left out of the folder.
    /// </summary>
    public static void RuleWithMissingDependency(string folder, string name)
    {
        var scratch = Directory.CreateTempSubdirectory("kommune-emit-").FullName;
        try
        {
            var (baseAssembly, baseModule) = Define($"{name}.Base");
            var baseType = baseModule.DefineType($"{name}.Base.RuleBase", TypeAttributes.Public | TypeAttributes.Abstract | TypeAttributes.Class, typeof(Rule));
            CallBase(baseType.DefineConstructor(MethodAttributes.Family, CallingConventions.Standard, Type.EmptyTypes).GetILGenerator(), RuleConstructor);
            baseType.CreateType();
            Save(baseAssembly, scratch, $"{name}.Base");

            var context = new AssemblyLoadContext("emit-reference", isCollectible: true);
            try
            {
                var loadedBase = context.LoadFromAssemblyPath(Path.Combine(scratch, $"{name}.Base.dll")).GetType($"{name}.Base.RuleBase", throwOnError: true)!;
                var (assembly, module) = Define(name);
                var type = DefineRule(module, $"{name}.NeedsDependencyRule", loadedBase, "needs-dependency");
                CallBase(
                    type.DefineConstructor(MethodAttributes.Public, CallingConventions.Standard, Type.EmptyTypes).GetILGenerator(),
                    loadedBase.GetConstructor(BindingFlags.NonPublic | BindingFlags.Instance, Type.EmptyTypes)!);
                type.CreateType();
                Save(assembly, folder, name);
            }
            finally
            {
                context.Unload();
            }
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static (PersistedAssemblyBuilder Assembly, ModuleBuilder Module) Define(string name)
    {
        var assembly = new PersistedAssemblyBuilder(new AssemblyName(name), typeof(object).Assembly);
        return (assembly, assembly.DefineDynamicModule(name));
    }

    private static TypeBuilder DefineRule(ModuleBuilder module, string typeName, Type baseType, string ruleName)
    {
        var type = module.DefineType(typeName, TypeAttributes.Public | TypeAttributes.Sealed | TypeAttributes.Class, baseType);
        type.SetCustomAttribute(new CustomAttributeBuilder(typeof(RuleAttribute).GetConstructor([typeof(string)])!, [ruleName]));
        var onEvent = type.DefineMethod(
            nameof(Rule.OnEvent),
            MethodAttributes.Public | MethodAttributes.Virtual | MethodAttributes.HideBySig,
            typeof(void),
            [typeof(IRuleContext), typeof(SensorEvent)]);
        onEvent.GetILGenerator().Emit(OpCodes.Ret);
        return type;
    }

    private static void CallBase(ILGenerator il, ConstructorInfo baseConstructor)
    {
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Call, baseConstructor);
        il.Emit(OpCodes.Ret);
    }

    private static void Save(PersistedAssemblyBuilder assembly, string folder, string name)
    {
        Directory.CreateDirectory(folder);
        assembly.Save(Path.Combine(folder, name + ".dll"));
    }
}
