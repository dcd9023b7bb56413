"""The LatentSwap gizmo's callbacks and buttons: Track, Precompute, the status line, getting pixels out of Nuke.

The gizmo (gizmos/LatentSwap.gizmo) holds only knobs and native nodes; its buttons are one-line calls into
this module (``g.track(nuke.thisNode())``). Engine work runs through ``jobs.run_job`` (a worker thread and a
progress bar in the GUI, directly in a terminal); pixels leave Nuke as the upstream Read's files or as EXRs
rendered by the gizmo's internal ``RawWrite``, and come back through its internal ``CacheRead``.
"""

from __future__ import annotations

import os

import nuke

from nuke_plugin import cache, colour, engine, jobs, trackbake

GIZMO_CLASS = "LatentSwap"
PIXEL_NEUTRAL_CLASSES = ("Dot", "NoOp", "Backdrop", "BackdropNode")
CACHE_PATTERN = "swap.####.exr"
RAW_PATTERN = os.path.join("raw", "raw.####.exr")
DEFAULT_PRECISION = "fp32"  # the engine's (swap/precision.py; tests/nuke/test_nuke_gizmo_file.py compares)
DEFAULT_CACHE_FOLDER = "latentswap_cache"  # beside the script: <script folder>/latentswap_cache/<node>
TRACK_FILE = "track.json"
EDITED_TRACK_FILE = "track.edited.json"
RAW_WRITE = "RawWrite"
CACHE_READ = "CacheRead"
FACE_KNOB_SUFFIXES = ("_center", "_scale", "_rotate")
STATUS_KNOBS = ("model", "refiner", "refine_strength", "refine_steps", "color_transfer", "blend", "precision", "faces",
                "engine", "cache_dir", "first_frame", "last_frame", "view", "showPanel", "inputChange")
RENDER_CLASSES = ("Write", "DeepWrite", "WriteGeo")  # what a render executes; Groups' Writes are Writes too
# Settings a render node may not see (the model and refiner folders' files; the engine, where it only reads caches
# and has none): unseen, the cache's own record of them stands, so `nuke -x` on a farm without the training share
# or the engine renders what Precompute made.
UNSEEN_ON_A_FARM = ("model_files", "refiner_files", "engine")


class PluginError(Exception):
    """Something the user can fix on the node (a knob, an input); the message is one line naming the fix."""


# ---------------------------------------------------------------------------------------------- start-up
def register_callbacks():
    """Called by init.py in every mode: node creation, knob changes, and the render guard on Writes."""
    nuke.addOnCreate(on_create, nodeClass=GIZMO_CLASS)
    nuke.addKnobChanged(knob_changed, nodeClass=GIZMO_CLASS)
    for node_class in RENDER_CLASSES:
        nuke.addBeforeFrameRender(before_frame_render, nodeClass=node_class)


def on_create():
    """A new, loaded or pasted LatentSwap node: its status line (its cache folder follows the script and name)."""
    update_status(nuke.thisNode())


def knob_changed():
    node = nuke.thisNode()
    knob = nuke.thisKnob()
    if knob is None:
        return
    if knob.name() in STATUS_KNOBS or knob.name() in face_knob_names(node):
        update_status(node)


# ---------------------------------------------------------------------------------------------- small helpers
def default_cache_dir(node):
    """``<script folder>/latentswap_cache/<node>``: beside the script, where the farm sees it too, and per node, so
    a node pasted into another script or renamed gets its own; "" for a script never saved."""
    script = str(nuke.root()["name"].value()).strip()
    if not script:
        return ""
    return os.path.join(os.path.dirname(os.path.abspath(script)), DEFAULT_CACHE_FOLDER,
                        node.fullName().replace(".", "_"))


def cache_folder_text(node):
    """The node's cache folder: the cache_dir knob (its Tcl, ``[getenv SHOTS]/...``, evaluated; a relative path
    from the project directory, as Nuke's Read and Write take it) or, empty, the default beside the script; ""
    when neither names one."""
    knob = node["cache_dir"]
    text = str(knob.value()).strip()
    if "[" in text:
        text = str(knob.evaluate()).strip()
    if not text:
        return default_cache_dir(node)
    folder = os.path.expanduser(text)
    if not os.path.isabs(folder):  # as Nuke's Read and Write take a relative path: from the project directory
        folder = os.path.normpath(os.path.join(project_directory(), folder))
    return folder


def cache_dir(node):
    """The node's cache folder, created if missing; PluginError when the script was never saved and the knob is
    empty."""
    folder = cache_folder_text(node)
    if not folder:
        raise PluginError(f"{node.name()}: save the script first (the cache goes beside it, in "
                          f"{DEFAULT_CACHE_FOLDER}/) or set the cache dir knob")
    if not os.path.isdir(folder):
        os.makedirs(folder)
    return folder


def cache_settings(node):
    """Every setting that changes the pixels Precompute renders, as JSON values; their hash keys the cache.

    The plate counts by its Read (file knob as written, so a farm that remaps paths keys it the same, frame
    offset, colourspace) or, for any other input, by the name of the node feeding the gizmo: edits upstream of
    that node are not seen. Model and refiner folders count by their files' sizes and times; the engine by what it
    says it is (its version and a digest of its files), wherever it is installed."""
    model = str(node["model"].value()).strip()
    settings = {
        "model": model,
        "model_files": cache.folder_stamps(os.path.expanduser(model)) if model else {},
        "color_transfer": str(node["color_transfer"].value()),
        "blend": str(node["blend"].value()),
        "faces": str(node["faces"].value()).replace(" ", "").lower() or "all",
        "face_edits": cache.text_digest("\n".join(f"{name} {node[name].toScript()}"
                                                  for name in sorted(face_knob_names(node)))),
        "plate": plate_identity(node),
        "colour": colour.colour_key(),
        "engine": engine_identity(node),
    }
    folder = cache_folder_text(node)
    settings["track"] = cache.file_stamp(os.path.join(folder, TRACK_FILE)) if folder else None
    precision = draft_precision(node)
    if precision:  # fp32 caches keep the key they had before the knob existed
        settings["precision"] = precision
    refiner = str(node["refiner"].value()).strip()
    if refiner:
        settings.update(refiner=refiner, refiner_files=cache.folder_stamps(os.path.expanduser(refiner)),
                        refine_strength=f"{float(node['refine_strength'].value()):g}",
                        refine_steps=int(node["refine_steps"].value()))
    return settings


def engine_identity(node):
    """The node's engine's version and digest (``engine.engine_identity``), or "" where none is found or answers."""
    try:
        prefix = _engine_prefix(node)
    except engine.EngineError:
        return ""
    return engine.engine_identity(prefix)


def with_unseen_settings(settings, rendered, names=UNSEEN_ON_A_FARM):
    """A copy of ``settings`` where those of ``names`` that this machine cannot see (empty) take a cache's
    ``rendered`` record of them."""
    return dict(settings, **{name: rendered[name] for name in names if not settings.get(name) and rendered.get(name)})


def plate_identity(node):
    """What the plate input is, for the cache key: the upstream Read's knobs that choose its pixels, or the name
    of the node feeding the gizmo."""
    read = upstream_read(node)
    if read is not None:
        frame = read.knob("frame")
        return {"read": str(read["file"].value()), "frame": str(frame.value()).strip() if frame is not None else "",
                "colorspace": str(read["colorspace"].value()), "raw": bool(read["raw"].value())}
    source = node.input(0)
    return {"input": source.fullName() if source is not None else ""}


def keyed_cache_folder(node, settings=None):
    """``<cache folder>/<key of the settings>``: where a Precompute with these settings renders; "" when the node
    has no cache folder."""
    folder = cache_folder_text(node)
    if not folder:
        return ""
    return os.path.join(folder, cache.settings_key(cache_settings(node) if settings is None else settings))


def frame_range(node, first=None, last=None):
    """(first, last) from the node's knobs unless given; PluginError if empty."""
    first = int(node["first_frame"].value()) if first is None else int(first)
    last = int(node["last_frame"].value()) if last is None else int(last)
    if last < first:
        raise PluginError(f"{node.name()}: the frame range {first}-{last} is empty; set first_frame <= last_frame")
    return first, last


def frame_path(pattern, frame):
    return pattern.replace("####", f"{frame:04d}")


def missing_cache_frames(node, first, last, folder=None):
    """The frames of first-last with no precomputed EXR in ``folder`` (default: the one the gizmo reads)."""
    folder = str(node["cache_folder"].value()).strip() if folder is None else folder
    pattern = os.path.join(folder, CACHE_PATTERN)
    return [frame for frame in range(first, last + 1) if not folder or not os.path.isfile(frame_path(pattern, frame))]


def compact_ranges(frames):
    """[1040, 1041, 1042, 1050] -> "1040-1042, 1050"."""
    parts = []
    start = previous = None
    for frame in sorted(frames):
        if previous is not None and frame == previous + 1:
            previous = frame
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = frame
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ", ".join(parts)


def update_status(node, text=None, settings=None):
    """The status line (or ``text``): what the cache holds for the frame range under the current settings; and the
    node's label in the Node Graph (``[value cache_state]``): that in a few words.

    A cache rendered with these settings is ready (and the gizmo reads it); one rendered with others is stale, and
    the line names the settings that changed. ``settings``: ``cache_settings(node)`` where the caller has them."""
    if node.knob("status") is None:
        return
    state, cache_text = cache_status(node, settings)
    if text is None:
        text = cache_text
        if not str(node["model"].value()).strip():
            text = "no model: set the model knob (Train Model... makes one). " + text
    node["status"].setValue(text)
    if node.knob("cache_state") is not None:
        node["cache_state"].setValue(state)


def cache_status(node, settings=None):
    """(a few words for the node's label, the status line) of the node's cache for its frame range."""
    try:
        first, last = frame_range(node)
    except PluginError as error:
        return "empty frame range", str(error)
    if not cache_folder_text(node):
        return "no cache dir", (f"save the script (the cache goes beside it, in {DEFAULT_CACHE_FOLDER}/) or set the "
                                "cache dir knob")
    settings = cache_settings(node) if settings is None else settings
    shown = str(node["cache_folder"].value()).strip()
    if not settings.get("engine") and shown:  # no engine answers here: the shown cache's record of it stands
        settings = with_unseen_settings(settings, cache.read_settings(shown) or {}, ("engine",))
    current = keyed_cache_folder(node, settings)
    total = last - first + 1
    missing = missing_cache_frames(node, first, last, current)
    if len(missing) < total:
        if shown != current:
            node["cache_folder"].setValue(current)  # a cache for these settings exists: read it
        if not missing:
            return "cache ready", f"cache ready: {first}-{last}"
        return (f"cache: {len(missing)} missing",
                f"cache: {total - len(missing)} of {total} frames; missing {compact_ranges(missing)}")
    if shown and len(missing_cache_frames(node, first, last, shown)) < total:
        changed = cache.changed_settings(cache.read_settings(shown) or {}, settings)
        return "cache stale", f"cache stale ({', '.join(changed) or 'settings'} changed): press Precompute"
    return "not precomputed", "not precomputed: press Precompute"


def _engine_prefix(node):
    return engine.find_engine(str(node["engine"].value()).strip() or None)


def _in_gui(call, node, *args, **kwargs):
    """Run a button's work; in the GUI a user error becomes a message instead of a Python traceback."""
    if not nuke.GUI:
        return call(node, *args, **kwargs)
    try:
        return call(node, *args, **kwargs)
    except (PluginError, engine.EngineError, trackbake.TrackBakeError, jobs.JobError) as error:
        nuke.message(f"LatentSwap: {error}")
        return None


# ---------------------------------------------------------------------------------------------- pixels out
def upstream_read(node):
    """The Read feeding the plate input directly or through pixel-neutral nodes (Dot, NoOp), else None."""
    current = node.input(0)
    while current is not None and current.Class() in PIXEL_NEUTRAL_CLASSES:
        current = current.input(0)
    if current is not None and current.Class() == "Read" and not current["disable"].value():
        return current
    return None


def plate_source(node, first, last):
    """The plate as a file sequence for the engine: the upstream Read's files when the engine can read exactly
    what the Read gives (its path evaluated; no frame offset; working-space pixels), else the input rendered to
    EXRs."""
    if node.input(0) is None:
        raise PluginError(f"{node.name()}: connect the plate input")
    read = upstream_read(node)
    if read is not None and not read_retimes(read):
        path = read_path(read)
        if colour.read_gives_its_files(read, path):
            return path
    return render_input(node, first, last)


def read_path(read):
    """The Read's file as Nuke resolves it: Tcl, $VARS and filename filters applied (``nuke.filename``), and a
    relative path taken from the project directory (else the script's folder), as Nuke's Read does."""
    path = str(nuke.filename(read) or read["file"].value())
    if not os.path.isabs(path):
        path = os.path.join(project_directory(), path)
    return os.path.normpath(path)


def project_directory():
    """The root's project_directory (evaluated), else the saved script's folder, else the working folder."""
    root = nuke.root()
    knob = root.knob("project_directory")
    folder = str(knob.evaluate() if isinstance(knob, nuke.EvalString_Knob) else "").strip()
    if not folder:
        folder = os.path.dirname(str(root["name"].value()))
    return os.path.expanduser(folder) if folder else os.getcwd()


def read_retimes(read):
    """Whether the Read shows other file frames than the frame numbers say (frame mode offset/start at/expr)."""
    knob = read.knob("frame")
    text = str(knob.value()).strip() if knob is not None else ""
    return text not in ("", "0")


def render_input(node, first, last):
    """Render the plate input through the internal RawWrite (EXR, 16-bit half, raw, all channels)."""
    write = node.node(RAW_WRITE)
    if write is None:
        raise PluginError(f"{node.name()}: the gizmo has no internal {RAW_WRITE}; recreate the node")
    pattern = os.path.join(cache_dir(node), RAW_PATTERN)
    folder = os.path.dirname(pattern)
    if not os.path.isdir(folder):
        os.makedirs(folder)
    write["file"].setValue(pattern.replace(os.sep, "/"))
    write["disable"].setValue(False)
    try:
        nuke.execute(write, first, last, 1)
    finally:
        write["disable"].setValue(True)
    return pattern


# ---------------------------------------------------------------------------------------------- Track
def track(node):
    """The Track button: ``latentswap track`` on the plate, then the faces baked onto the Faces tab."""
    return _in_gui(_track, node)


def _track(node):
    prefix = _engine_prefix(node)
    first, last = frame_range(node)
    source = plate_source(node, first, last)
    track_path = os.path.join(cache_dir(node), TRACK_FILE)
    args = ["track", source, "-o", track_path, "--frames", f"{first}-{last}", *colour.engine_arguments()]
    update_status(node, "tracking...")

    def done():
        count = bake_track(node, track_path)
        update_status(node, f"tracked {count} face(s) over {first}-{last}")

    return jobs.run_job(prefix, args, f"LatentSwap Track ({node.name()})", on_done=done,
                        on_error=lambda message: update_status(node, "track failed: " + message))


def face_knob_names(node):
    return [name for name in node.knobs()
            if name.startswith("face") and name.endswith(FACE_KNOB_SUFFIXES) and name[4:5].isdigit()]


def bake_track(node, track_path):
    """Per tracked face: ``face<ID>_center`` (XY), ``_scale``, ``_rotate`` keyed on every tracked frame."""
    track_data = trackbake.read_track(track_path)
    animation = trackbake.face_animation(track_data)
    for name in face_knob_names(node):
        node.removeKnob(node[name])
    for track_id in sorted(animation):
        center = nuke.XY_Knob(f"face{track_id}_center", f"face {track_id} centre")
        scale = nuke.Double_Knob(f"face{track_id}_scale", "scale")
        rotate = nuke.Double_Knob(f"face{track_id}_rotate", "rotate")
        for knob in (center, scale, rotate):
            node.addKnob(knob)
            knob.setAnimated()
        previous = None
        for frame in sorted(animation[track_id]):
            cx, cy, side, angle = animation[track_id][frame]
            if previous is not None:  # keep the curve continuous across +-180 degrees
                angle = previous + ((angle - previous + 180.0) % 360.0 - 180.0)
            previous = angle
            center.setValueAt(cx, frame, 0)
            center.setValueAt(cy, frame, 1)
            scale.setValueAt(side, frame)
            rotate.setValueAt(angle, frame)
    return len(animation)


def face_edits(node, track_data):
    """``{track_id: {frame: (cx, cy, scale, rotate)}}`` read back from the face knobs on the tracked frames."""
    edits = {}
    for track_id, frames in trackbake.face_animation(track_data).items():
        center = node.knob(f"face{track_id}_center")
        scale = node.knob(f"face{track_id}_scale")
        rotate = node.knob(f"face{track_id}_rotate")
        if center is None or scale is None or rotate is None:
            continue
        edits[track_id] = {frame: (center.valueAt(frame, 0), center.valueAt(frame, 1), scale.valueAt(frame),
                                   rotate.valueAt(frame)) for frame in frames}
    return edits


# ---------------------------------------------------------------------------------------------- Precompute
def precompute(node, first=None, last=None, on_done=None):
    """The Precompute button: ``latentswap swap`` into ``<cache dir>/<settings key>/swap.####.exr`` for the frame
    range; the gizmo reads that folder from the start, so frames show as they finish."""
    return _in_gui(_precompute, node, first, last, on_done)


def swap_arguments(node, source, first, last, track_path=None, output_folder=None):
    """The ``latentswap swap`` arguments for a node (erode and blur stay live in the gizmo: 0 here), rendering into
    ``output_folder`` (default: the folder keyed by the node's settings)."""
    model = str(node["model"].value()).strip()
    if not model:
        raise PluginError(f"{node.name()}: set the model knob to a model folder from latentswap train "
                          "(LatentSwap > Train Model...)")
    folder = output_folder or keyed_cache_folder(node) or cache_dir(node)
    args = ["swap", source, "--model", os.path.expanduser(model),
            "-o", os.path.join(folder, CACHE_PATTERN), "--frames", f"{first}-{last}",
            "--mask-erode", "0", "--mask-blur", "0",
            "--color-transfer", str(node["color_transfer"].value()), "--blend", str(node["blend"].value()),
            *precision_arguments(node),
            "--layers", "face",  # the gizmo merges the face over the plate itself
            *colour.engine_arguments()]  # the plate in, the face out, in the script's working space
    refiner = str(node["refiner"].value()).strip()
    if refiner:
        strength = float(node["refine_strength"].value())
        args += ["--refine", os.path.expanduser(refiner), "--refine-strength", f"{strength:g}",
                 "--refine-steps", str(int(node["refine_steps"].value()))]
    for track_id in face_track_ids(node):
        args += ["--track-id", track_id]
    if track_path:
        args += ["--track", track_path]
    return args


def draft_precision(node):
    """The precision knob's value where it asks for a draft (bf16); None for the default, fp32, which neither keys
    the cache nor is passed to the engine."""
    precision = str(node["precision"].value())
    return None if precision == DEFAULT_PRECISION else precision


def precision_arguments(node):
    """``--precision`` for a draft only: fp32 passes nothing, so an engine older than the option still runs."""
    precision = draft_precision(node)
    return ["--precision", precision] if precision else []


def face_track_ids(node):
    """The faces knob ("all", empty, or track ids such as "0,2") as the track ids to pass, one per ``--track-id``."""
    text = str(node["faces"].value()).strip().replace(" ", "")
    if not text or text.lower() == "all":
        return []
    ids = [part for part in text.split(",") if part]
    if not ids or not all(part.isascii() and part.isdigit() for part in ids):
        raise PluginError(f"{node.name()}: the faces knob {text!r} is not 'all' or track ids such as 0 or 0,2")
    return [str(int(part)) for part in ids]


def write_edited_track(node):
    """The track file with the Faces tab's hand edits (``cache_dir/track.edited.json``), or None before Track."""
    folder = cache_dir(node)
    baked = os.path.join(folder, TRACK_FILE)
    if not os.path.isfile(baked):
        return None
    track_data = trackbake.read_track(baked)
    edited = trackbake.apply_edits(track_data, face_edits(node, track_data))
    path = os.path.join(folder, EDITED_TRACK_FILE)
    trackbake.write_track(path, edited)
    return path


def _precompute(node, first, last, on_done):
    prefix = _engine_prefix(node)
    if not engine.engine_identity(prefix, ask_again=True):  # the cache is keyed by it; and cache_settings reads it
        raise PluginError(f"{node.name()}: the engine {' '.join(prefix)} does not answer `--version`: point the "
                          "engine knob at the latentswap executable, or reinstall it (make install)")
    first, last = frame_range(node, first, last)
    cache_dir(node)  # checks the knobs before any rendering
    swap_arguments(node, "", first, last)
    source = plate_source(node, first, last)
    settings = cache_settings(node)
    folder = keyed_cache_folder(node, settings)
    args = swap_arguments(node, source, first, last, write_edited_track(node), folder)
    if not os.path.isdir(folder):
        os.makedirs(folder)
    cache.write_settings(folder, settings)
    node["cache_folder"].setValue(folder)
    update_status(node, "precomputing...", settings)

    def done():
        cache_read = node.node(CACHE_READ)
        if cache_read is not None and cache_read.knob("reload") is not None:
            cache_read["reload"].execute()
        update_status(node)
        if on_done is not None:
            on_done()

    return jobs.run_job(prefix, args, f"LatentSwap Precompute ({node.name()})", on_done=done,
                        on_error=lambda message: update_status(node, "precompute failed: " + message))


def precompute_nodes(nodes, first=None, last=None):
    """Precompute several nodes one after the other (GUI: each starts when the previous one finished)."""
    nodes = list(nodes)
    if not nuke.GUI:
        for node in nodes:
            precompute(node, first, last)
        return

    def next_one():
        if nodes:
            precompute(nodes.pop(0), first, last, on_done=next_one)
    next_one()


def latentswap_nodes(selected_only=False):
    found = [node for node in nuke.allNodes(GIZMO_CLASS, recurseGroups=True) if not node["disable"].value()]
    if selected_only:
        found = [node for node in found if node.isSelected()]
    return found


def precompute_from_menu():
    """LatentSwap > Precompute Swaps...: the selected LatentSwap nodes, else all of them."""
    nodes = latentswap_nodes(selected_only=True) or latentswap_nodes()
    if not nodes:
        nuke.message("LatentSwap: there is no LatentSwap node in this script")
        return
    precompute_nodes(nodes)


# ---------------------------------------------------------------------------------------------- render guard
def inside_latentswap(node):
    full = node.fullName()
    if "." not in full:
        return False
    parent = nuke.toNode("root." + full.rsplit(".", 1)[0]) or nuke.toNode(full.rsplit(".", 1)[0])
    return parent is not None and parent.Class() == GIZMO_CLASS


def upstream_latentswap(node):
    """The enabled LatentSwap nodes feeding ``node``."""
    found, seen, queue = [], set(), [node]
    while queue:
        current = queue.pop()
        for index in range(current.inputs()):
            source = current.input(index)
            if source is None or id(source) in seen:
                continue
            seen.add(id(source))
            if source.Class() == GIZMO_CLASS and not source["disable"].value():
                found.append(source)
            queue.append(source)
    return found


def render_command(first, last):
    script = str(nuke.root()["name"].value()) or "shot.nk"
    tool = os.path.join(engine.default_plugin_root(), "tools", "render.py")
    return f"nuke -t {tool} {script} --frames {first}-{last}"


def before_frame_render():
    """Stop a render at a frame whose precomputed face is missing, or stale, for a LatentSwap node feeding the Write.

    Checked per frame, so a farm chunk (``nuke -x -F 1001-1010``, a Render dialog sub-range) needs only its own
    frames; a LatentSwap node whose range does not hold the frame passes the plate through there. A cache rendered
    with other settings than the node's (a model trained on, a knob changed after Precompute) is refused: the
    render would show the old swap."""
    write = nuke.thisNode()
    if inside_latentswap(write):  # the plate render of Precompute itself
        return
    frame = int(nuke.frame())
    for node in upstream_latentswap(write):
        first, last = int(node["first_frame"].value()), int(node["last_frame"].value())
        if not first <= frame <= last:
            continue
        settings = cache_settings(node)
        update_status(node, settings=settings)  # reads the cache of the current settings where one exists
        shown = str(node["cache_folder"].value()).strip()
        rendered = (cache.read_settings(shown) or {}) if shown else {}
        settings = with_unseen_settings(settings, rendered)  # e.g. a render node without the model folder
        current = keyed_cache_folder(node, settings)
        if shown and current and os.path.normpath(shown) != os.path.normpath(current):
            changed = cache.changed_settings(rendered, settings)
            raise RuntimeError(
                f"{node.name()}: its cache in {shown} was rendered with other settings ({', '.join(changed)} changed "
                f"since); run `{render_command(first, last)}` or press Precompute on the node and save the script")
        if missing_cache_frames(node, frame, frame, current):
            missing = missing_cache_frames(node, first, last, current)
            raise RuntimeError(
                f"{node.name()}: the precomputed frame {frame} is missing in {current or 'the cache'} "
                f"({len(missing)} of {last - first + 1} missing: {compact_ranges(missing)}); run "
                f"`{render_command(min(missing), max(missing))}` or press Precompute on the node")
