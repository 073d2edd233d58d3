//! One sandbox thread's engine: a QuickJS runtime with a memory limit and a deadline checked
//! by its interrupt handler, a fresh context per run, and the `global` caches per
//! connection. A run that hits a limit throws the runtime away; the next run gets a new one.

use crate::native::{self, RunContext, RunSlot, RunState};
use crate::outcome::{ScriptError, ScriptRun};
use crate::pool::{ScriptCall, Shared};
use rquickjs::context::EvalOptions;
use rquickjs::{Array, Context, Ctx, Function, Object, Persistent, Runtime, Value};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PRELUDE: &str = include_str!("prelude.js");

/// QuickJS's own stack limit, below the thread's (see `pool`).
const STACK_LIMIT: usize = 1024 * 1024;
/// Connections whose `global` cache one thread keeps before it starts over.
const MAX_CACHES: usize = 64;

struct Engine {
    // Declared first so they are dropped before the runtime they live in.
    warm: HashMap<String, Warm>,
    caches: HashMap<String, Persistent<Object<'static>>>,
    deadline: Rc<Cell<Option<Instant>>>,
    runtime: Runtime,
}

impl Engine {
    fn new(memory_limit: usize) -> Result<Self, ScriptError> {
        let runtime = Runtime::new().map_err(|e| ScriptError::Sandbox(e.to_string()))?;
        runtime.set_memory_limit(memory_limit);
        runtime.set_max_stack_size(STACK_LIMIT);
        let deadline: Rc<Cell<Option<Instant>>> = Rc::new(Cell::new(None));
        let d = deadline.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            d.get().is_some_and(|at| Instant::now() >= at)
        })));
        Ok(Self {
            warm: HashMap::new(),
            caches: HashMap::new(),
            deadline,
            runtime,
        })
    }
}

/// A context kept between runs of one script (`ScriptCall::keep_warm`): the prelude, the
/// natives and the script's own top level evaluated once, as Node keeps a module loaded;
/// each run swaps in its own state and facts and calls the script again. Auth0's actions see
/// the same (a container keeps its module and globals between executions).
struct Warm {
    state: Rc<RefCell<RunState>>,
    slot: Rc<RunSlot>,
    script: Persistent<Value<'static>>,
    context: Context,
}

pub(crate) struct Worker {
    shared: Arc<Shared>,
    engine: Option<Engine>,
}

/// How a run ended, before it is turned into a `ScriptRun`.
enum Ending {
    Settled,
    Failed(ScriptError),
}

impl Worker {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            engine: None,
        }
    }

    pub(crate) fn run(&mut self, call: &ScriptCall) -> ScriptRun {
        let started = Instant::now();
        let limits = self.shared.limits.clone();
        let state = Rc::new(RefCell::new(RunState::default()));
        let ending = match self
            .engine
            .take()
            .map_or_else(|| Engine::new(limits.memory_limit), Ok)
        {
            Ok(mut engine) => {
                let deadline = started + limits.time_limit;
                engine.deadline.set(Some(deadline));
                let ending = if call.keep_warm {
                    run_warm(&mut engine, &self.shared, call, &state, deadline)
                } else {
                    run_in(&mut engine, &self.shared, call, state.clone(), deadline)
                };
                engine.deadline.set(None);
                // A run that hit a limit may have left the runtime half-done: start over.
                let keep = matches!(ending, Ending::Settled)
                    || matches!(
                        ending,
                        Ending::Failed(
                            ScriptError::Threw(_)
                                | ScriptError::NoCallback
                                | ScriptError::Invalid(_)
                        )
                    );
                let heavy =
                    engine.runtime.memory_usage().malloc_size as usize > limits.memory_limit / 2;
                if keep && !heavy {
                    self.engine = Some(engine);
                }
                ending
            }
            Err(e) => Ending::Failed(e),
        };
        let mut st = state.borrow_mut();
        let outcome = match ending {
            Ending::Settled => match st.settled.take() {
                Some(Ok(v)) => Ok(v),
                Some(Err(e)) => Err(ScriptError::Callback(e)),
                None => Err(ScriptError::NoCallback),
            },
            Ending::Failed(e) => Err(e),
        };
        let masks = secrets_of(call);
        ScriptRun {
            outcome: outcome.map_err(|e| mask_error(e, &masks)),
            console: std::mem::take(&mut st.console),
            elapsed_ms: started.elapsed().as_millis() as u64,
        }
    }
}

/// What went wrong in a call into the engine: the pending JavaScript exception when the
/// error is one, else the engine's own error (a conversion, an allocation) as it says it.
pub(crate) fn engine_error_text(ctx: &Ctx<'_>, error: &rquickjs::Error) -> String {
    if error.is_exception() {
        exception_text(ctx)
    } else {
        error.to_string()
    }
}

/// The exception pending in `ctx`, as text.
fn exception_text(ctx: &Ctx<'_>) -> String {
    let caught = ctx.catch();
    if let Some(e) = caught.as_exception() {
        let message = e.message().unwrap_or_default();
        let name: String = e.get("name").unwrap_or_else(|_| "Error".into());
        let stack = e.stack().unwrap_or_default();
        let first_frame = stack.lines().next().unwrap_or("").trim().to_string();
        if first_frame.is_empty() {
            format!("{name}: {message}")
        } else {
            format!("{name}: {message} ({first_frame})")
        }
    } else if let Some(s) = caught.as_string() {
        s.to_string().unwrap_or_default()
    } else {
        ctx.json_stringify(caught)
            .ok()
            .flatten()
            .and_then(|s| s.to_string().ok())
            .unwrap_or_else(|| "an exception that cannot be shown".into())
    }
}

/// What an exception means: a limit hit, or the script's own error.
fn classify(text: String, deadline: Instant, limits: &crate::SandboxLimits) -> ScriptError {
    if Instant::now() >= deadline || text.contains("interrupted") {
        ScriptError::TimedOut(limits.time_limit.as_millis() as u64)
    } else if text.contains("out of memory") {
        ScriptError::OutOfMemory(limits.memory_limit)
    } else if text.contains("stack overflow") {
        ScriptError::Threw(format!(
            "{text} (the sandbox's stack limit is {STACK_LIMIT} bytes)"
        ))
    } else {
        ScriptError::Threw(text)
    }
}

/// The expression a script's source is compiled as: Auth0's scripts are a single function
/// (`function login(email, password, callback) { … }`). Wrapped so the source's line numbers
/// stay the same.
pub(crate) fn wrapped(source: &str) -> String {
    format!("(function () {{ return ({source}\n); }})")
}

/// Runs `call` in its warm context (made at its first run), moving what the run recorded
/// into `out`. The context is kept only when the run settled and left nothing behind (no
/// pending job or timer that could reach into the next run).
fn run_warm(
    engine: &mut Engine,
    shared: &Arc<Shared>,
    call: &ScriptCall,
    out: &Rc<RefCell<RunState>>,
    deadline: Instant,
) -> Ending {
    let limits = &shared.limits;
    let run = Rc::new(RunContext {
        shared: shared.clone(),
        deadline,
        masks: secrets_of(call),
        script: call.name.clone(),
    });
    if !engine.warm.contains_key(&call.cache_key) {
        if engine.warm.len() >= MAX_CACHES {
            engine.warm.clear();
        }
        match warm_up(engine, call, run.clone(), deadline, limits) {
            Ok(warm) => {
                engine.warm.insert(call.cache_key.clone(), warm);
            }
            Err(e) => return Ending::Failed(e),
        }
    }
    let Some(warm) = engine.warm.get(&call.cache_key) else {
        return Ending::Failed(ScriptError::Sandbox("the warm context is gone".into()));
    };
    warm.slot.set(run);
    *warm.state.borrow_mut() = RunState::default();
    let started = warm.context.with(|ctx| -> Result<(), ScriptError> {
        let failed = |ctx: &Ctx<'_>, e: rquickjs::Error| {
            classify(engine_error_text(ctx, &e), deadline, limits)
        };
        let globals = ctx.globals();
        let configuration = serde_json::Value::Object(call.configuration.clone()).to_string();
        let configuration = ctx.json_parse(configuration).map_err(|e| failed(&ctx, e))?;
        globals
            .set("configuration", configuration)
            .map_err(|e| failed(&ctx, e))?;
        let script = warm
            .script
            .clone()
            .restore(&ctx)
            .map_err(|e| failed(&ctx, e))?;
        let args = serde_json::Value::Array(call.args.clone()).to_string();
        let args: Array = ctx
            .json_parse(args)
            .and_then(|v| v.get())
            .map_err(|e| failed(&ctx, e))?;
        let hidden: Object = globals.get("__gatehouse").map_err(|e| failed(&ctx, e))?;
        let start: Function = hidden.get("start").map_err(|e| failed(&ctx, e))?;
        start
            .call::<_, ()>((script, args))
            .map_err(|e| failed(&ctx, e))
    });
    let ending = match started {
        Err(e)
            if !(warm.state.borrow().settled.is_some() && matches!(e, ScriptError::Threw(_))) =>
        {
            Ending::Failed(e)
        }
        _ => drive(engine, &warm.context, &warm.state, deadline, limits),
    };
    let quiet = matches!(ending, Ending::Settled)
        && !engine.runtime.is_job_pending()
        && warm
            .context
            .with(|ctx| -> rquickjs::Result<f64> {
                let hidden: Object = ctx.globals().get("__gatehouse")?;
                let next: Function = hidden.get("nextTimer")?;
                next.call(())
            })
            .is_ok_and(|next| next < 0.0);
    *out.borrow_mut() = std::mem::take(&mut *warm.state.borrow_mut());
    if !quiet {
        engine.warm.remove(&call.cache_key);
    }
    ending
}

/// A new warm context for `call`: natives, prelude, a `global` of its own, the script's
/// function.
fn warm_up(
    engine: &Engine,
    call: &ScriptCall,
    run: Rc<RunContext>,
    deadline: Instant,
    limits: &crate::SandboxLimits,
) -> Result<Warm, ScriptError> {
    let context =
        Context::full(&engine.runtime).map_err(|e| classify(e.to_string(), deadline, limits))?;
    let state = Rc::new(RefCell::new(RunState::default()));
    let slot = Rc::new(RunSlot::new(run));
    let script = context.with(|ctx| -> Result<Persistent<Value<'static>>, ScriptError> {
        let failed = |ctx: &Ctx<'_>, e: rquickjs::Error| {
            classify(engine_error_text(ctx, &e), deadline, limits)
        };
        native::install(&ctx, state.clone(), slot.clone()).map_err(|e| failed(&ctx, e))?;
        ctx.eval::<(), _>(PRELUDE).map_err(|e| failed(&ctx, e))?;
        let globals = ctx.globals();
        let cache = Object::new(ctx.clone()).map_err(|e| failed(&ctx, e))?;
        globals.set("global", cache).map_err(|e| failed(&ctx, e))?;
        let mut options = EvalOptions::default();
        options.global = true;
        options.strict = false;
        options.filename = Some(format!("{}.js", call.name));
        let factory: Function = ctx
            .eval_with_options(wrapped(&call.source), options)
            .map_err(|e| match failed(&ctx, e) {
                ScriptError::Threw(t) => ScriptError::Invalid(t),
                other => other,
            })?;
        let script: Value = factory.call(()).map_err(|e| failed(&ctx, e))?;
        Ok(Persistent::save(&ctx, script))
    })?;
    Ok(Warm {
        state,
        slot,
        script,
        context,
    })
}

fn run_in(
    engine: &mut Engine,
    shared: &Arc<Shared>,
    call: &ScriptCall,
    state: Rc<RefCell<RunState>>,
    deadline: Instant,
) -> Ending {
    let limits = &shared.limits;
    let context = match Context::full(&engine.runtime) {
        Ok(c) => c,
        Err(e) => return Ending::Failed(classify(e.to_string(), deadline, limits)),
    };
    let masks = secrets_of(call);
    let run = Rc::new(RunContext {
        shared: shared.clone(),
        deadline,
        masks,
        script: call.name.clone(),
    });
    if engine.caches.len() > MAX_CACHES {
        engine.caches.clear();
    }
    let caches = &mut engine.caches;
    let started = context.with(|ctx| -> Result<(), ScriptError> {
        let failed = |ctx: &Ctx<'_>, e: rquickjs::Error| {
            classify(engine_error_text(ctx, &e), deadline, limits)
        };
        native::install(&ctx, state.clone(), Rc::new(RunSlot::new(run.clone())))
            .map_err(|e| failed(&ctx, e))?;
        ctx.eval::<(), _>(PRELUDE).map_err(|e| failed(&ctx, e))?;
        let globals = ctx.globals();
        let configuration = serde_json::Value::Object(call.configuration.clone()).to_string();
        let configuration = ctx.json_parse(configuration).map_err(|e| failed(&ctx, e))?;
        globals
            .set("configuration", configuration)
            .map_err(|e| failed(&ctx, e))?;
        let cache = match caches.get(&call.cache_key) {
            Some(saved) => saved.clone().restore(&ctx).ok(),
            None => None,
        };
        let cache = match cache {
            Some(c) => c,
            None => {
                let fresh = Object::new(ctx.clone()).map_err(|e| failed(&ctx, e))?;
                caches.insert(
                    call.cache_key.clone(),
                    Persistent::save(&ctx, fresh.clone()),
                );
                fresh
            }
        };
        globals.set("global", cache).map_err(|e| failed(&ctx, e))?;
        let mut options = EvalOptions::default();
        options.global = true;
        options.strict = false;
        options.filename = Some(format!("{}.js", call.name));
        let factory: Function = ctx
            .eval_with_options(wrapped(&call.source), options)
            .map_err(|e| match failed(&ctx, e) {
                ScriptError::Threw(t) => ScriptError::Invalid(t),
                other => other,
            })?;
        let script: Value = factory.call(()).map_err(|e| failed(&ctx, e))?;
        let args = serde_json::Value::Array(call.args.clone()).to_string();
        let args: Array = ctx
            .json_parse(args)
            .and_then(|v| v.get())
            .map_err(|e| failed(&ctx, e))?;
        let hidden: Object = globals.get("__gatehouse").map_err(|e| failed(&ctx, e))?;
        let start: Function = hidden.get("start").map_err(|e| failed(&ctx, e))?;
        start
            .call::<_, ()>((script, args))
            .map_err(|e| failed(&ctx, e))?;
        Ok(())
    });
    if let Err(e) = started {
        // A synchronous throw after the callback was called does not undo the answer.
        if state.borrow().settled.is_some() && matches!(e, ScriptError::Threw(_)) {
            return Ending::Settled;
        }
        return Ending::Failed(e);
    }
    drive(engine, &context, &state, deadline, limits)
}

/// Runs the promise jobs and timers the script started until it calls back, everything it
/// started is done, or the deadline passes.
fn drive(
    engine: &Engine,
    context: &Context,
    state: &Rc<RefCell<RunState>>,
    deadline: Instant,
    limits: &crate::SandboxLimits,
) -> Ending {
    loop {
        loop {
            if state.borrow().settled.is_some() {
                return Ending::Settled;
            }
            if let Some(text) = state.borrow_mut().uncaught.take() {
                return Ending::Failed(classify(text, deadline, limits));
            }
            match engine.runtime.execute_pending_job() {
                Ok(true) => {}
                Ok(false) => break,
                Err(job) => {
                    let text = job.0.with(|ctx| exception_text(&ctx));
                    if state.borrow().settled.is_some() {
                        return Ending::Settled;
                    }
                    return Ending::Failed(classify(text, deadline, limits));
                }
            }
        }
        if state.borrow().settled.is_some() {
            return Ending::Settled;
        }
        let now = Instant::now();
        if now >= deadline {
            return Ending::Failed(ScriptError::TimedOut(limits.time_limit.as_millis() as u64));
        }
        let next = context.with(|ctx| -> rquickjs::Result<f64> {
            let hidden: Object = ctx.globals().get("__gatehouse")?;
            let next: Function = hidden.get("nextTimer")?;
            next.call(())
        });
        let next = match next {
            Ok(n) => n,
            Err(e) => {
                let text = context.with(|ctx| engine_error_text(&ctx, &e));
                return Ending::Failed(classify(text, deadline, limits));
            }
        };
        if next < 0.0 {
            return Ending::Failed(ScriptError::NoCallback);
        }
        let wait = Duration::from_millis(next as u64).min(deadline.saturating_duration_since(now));
        std::thread::sleep(wait);
        if Instant::now() >= deadline {
            return Ending::Failed(ScriptError::TimedOut(limits.time_limit.as_millis() as u64));
        }
        let fired = context.with(|ctx| -> rquickjs::Result<()> {
            let hidden: Object = ctx.globals().get("__gatehouse")?;
            let fire: Function = hidden.get("fireTimers")?;
            fire.call(())
        });
        if let Err(e) = fired {
            let text = context.with(|ctx| engine_error_text(&ctx, &e));
            return Ending::Failed(classify(text, deadline, limits));
        }
    }
}

/// What no text leaving a run may show: the call's secrets (the typed password) and every
/// configuration value.
pub(crate) fn secrets_of(call: &ScriptCall) -> Vec<String> {
    let mut masks: Vec<String> = call
        .secrets
        .iter()
        .filter(|s| s.len() >= 3)
        .cloned()
        .collect();
    collect_strings(
        &serde_json::Value::Object(call.configuration.clone()),
        &mut masks,
    );
    masks
}

fn masked(text: &str, masks: &[String]) -> String {
    masks
        .iter()
        .fold(text.to_string(), |t, m| t.replace(m.as_str(), "[redacted]"))
}

/// The run's error with the secrets masked: its text goes to logs and to administrators.
fn mask_error(e: ScriptError, masks: &[String]) -> ScriptError {
    match e {
        ScriptError::Callback(mut c) => {
            c.message = masked(&c.message, masks);
            ScriptError::Callback(c)
        }
        ScriptError::Threw(t) => ScriptError::Threw(masked(&t, masks)),
        ScriptError::Invalid(t) => ScriptError::Invalid(masked(&t, masks)),
        other => other,
    }
}

/// Every string in the configuration, to be masked in console output.
fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) if s.len() >= 3 => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(o) => o.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}
